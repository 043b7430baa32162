// worker_pools.hpp — fixtures for tests of the daemon's worker pools: a `[[pool]]` table of
// the real fastmd-worker-md (or any command) as config-file text, and the pools part of the
// daemon's ipc.status (`worker_pools`) read through an observer session, with bounded waits
// for a pool to reach a state.
//
//     write_file(config, pool_table("markdown", worker_md_command(), "min = 2\n"));
//     DaemonProcess daemon({"--config", config});
//     auto pool = wait_for_pool(daemon.socket_path(), "markdown",
//                               [](const PoolView& p) { return p.ready_workers() == 2; });
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fastmd::test {

using namespace std::chrono_literals;

/// FASTMD_BIN_DIR/fastmd-worker-md, as a pool command (argv).
std::vector<std::string> worker_md_command(unsigned concurrency = 1);

/// FASTMD_BIN_DIR/fastmd-test-hostile-worker --answer code-0 --name `name`, as a pool command:
/// a worker whose hello has no reports_load (its load is unknown to the daemon).
std::vector<std::string> silent_worker_command(const std::string& name);

/// A `[[pool]]` table named `name` running `command`, with `extra` (TOML lines) appended.
std::string pool_table(const std::string& name, const std::vector<std::string>& command,
                       const std::string& extra = "");

struct PoolWorkerView {
  pid_t pid = 0;
  std::string state;
  std::uint64_t session = 0;
};

/// One entry of ipc.status `worker_pools`.
struct PoolView {
  std::string name;
  std::string state;
  std::uint64_t wanted = 0;
  std::uint64_t restarts = 0;
  std::uint64_t recent_failures = 0;
  std::string last_exit;
  std::vector<std::string> methods;
  std::vector<PoolWorkerView> workers;

  std::size_t ready_workers() const;
  std::vector<pid_t> pids() const;
};

/// The daemon's worker pools now (an observer session asks ipc.status); throws when the daemon
/// does not answer.
std::vector<PoolView> worker_pools(const std::string& socket_path);

/// Polls the pool `name` until `done` holds (at most `timeout`); the last view seen, or
/// std::nullopt when the pool never appeared. The caller checks `done` on the result.
std::optional<PoolView> wait_for_pool(const std::string& socket_path, const std::string& name,
                                      const std::function<bool(const PoolView&)>& done,
                                      std::chrono::milliseconds timeout = 10s);

/// Whether process `pid` is gone (no such process, or a zombie of another parent).
bool process_gone(pid_t pid);

}  // namespace fastmd::test
