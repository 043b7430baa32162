// worker_daemon_mode.hpp — how run_worker_main() serves when not given --stdio: as a Worker
// connected to fastmd-ipcd (worker_daemon_mode/fast_path.cpp). A build without the fast path
// (Windows, docs/platforms.md) links worker_daemon_mode/stdio_only.cpp instead, which refuses
// and says to use --stdio; the command line and the --stdio mode are the same source
// everywhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "fastmd/ipc/handler.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

/// The fast path's share of the worker command line (WorkerOptions' fields of the same names).
struct DaemonModeOptions {
  std::string socket_path;
  std::string name;
  unsigned threads = 1;
  std::optional<std::chrono::microseconds> spin_budget;
  std::uint32_t ring_bytes = 0;
  std::chrono::milliseconds wait_for_daemon{0};
};

/// Serves `methods` through the daemon until SIGTERM or SIGINT: OK when stopped, else the
/// Worker's error.
proto::Status serve_through_daemon(MethodTable methods, const DaemonModeOptions& options);

}  // namespace fastmd::ipc::detail
