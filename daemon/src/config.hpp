// config.hpp — the daemon's options: one struct, filled by CLI11 from flags and a TOML config
// file (every configurable option is both; config_file.hpp reads the file strictly against
// these declarations), validated, printable as the effective config, and partly reloadable on
// SIGHUP (log level, limits and worker pools; the socket and shared memory stay as started).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fastmd/proto/result.hpp"
#include "memory/pools.hpp"
#include "pools/pool_spec.hpp"

namespace fastmd::daemon {

/// Limits that SIGHUP may change while sessions run.
struct Limits {
  std::uint32_t handshake_timeout_ms = 2000;
  std::uint32_t no_worker_wait_ms = 5000;
  std::uint32_t max_sessions = 4096;
  std::uint32_t max_sessions_per_uid = 1024;
  std::uint32_t max_introductions_per_session = 256;
  std::uint64_t max_queued_bytes_per_session = 1024 * 1024;
  std::uint64_t max_queued_bytes_per_uid = 64 * 1024 * 1024;

  std::chrono::milliseconds handshake_timeout() const {
    return std::chrono::milliseconds(handshake_timeout_ms);
  }
};

struct Options {
  std::string config_file;
  bool check_config = false;  // --check-config: validate, print the effective config, exit
  std::string socket_path;    // empty: FASTMD_IPC_SOCKET, then the default rule
  std::string log_level = "info";
  std::vector<uid_t> allow_uids;
  std::vector<gid_t> allow_gids;
  std::uint32_t drain_timeout_ms = 2000;
  std::uint64_t pool_size_mib = PoolOptions{}.pool_size / kMiB;
  std::uint64_t segment_size_kib = PoolOptions{}.segment_size / 1024;
  std::string pool_backing = "memfd";
  std::uint32_t max_segments_per_uid = 0;
  bool huge_pages = false;
  /// --user: the per-user daemon (user_mode.hpp): its socket in the per-user directory, the
  /// built-in Markdown pool, and an exit after `idle_exit_s` without clients.
  bool user_mode = false;
  std::uint32_t idle_exit_s = 60;

  /// The pool part of the options, as memory/pools.hpp takes it.
  PoolOptions pool_options() const;
  Limits limits;
  /// Worker pools: the config file's [[pool]] tables (no command-line form). SIGHUP applies
  /// added, removed and changed pools.
  std::vector<PoolSpec> worker_pools;
};

/// Registers every option of fastmd-ipcd on `app`, bound to `options`: the configurable ones
/// (also config-file keys) and the command-line-only --config, --check-config and --version.
/// Call once per App; parse with app.parse(argc, argv), then apply_config_and_validate().
void add_options(CLI::App& app, Options& options);

/// After app.parse(): reads the --config file, if any, into `options` (flags given on the
/// command line win), then validate(). The error lists every problem, one `file:line:column:`
/// line each (config_file.hpp).
proto::Status apply_config_and_validate(CLI::App& app, Options& options);

/// Checks cross-field rules CLI11 cannot express; the message names the option to fix.
proto::Status validate(const Options& options);

/// Parses `argv` into fresh Options (config file included) as at start; used again on SIGHUP
/// to re-read the config file. Returns INVALID_FIELD with CLI11's, the config file's or
/// validate()'s message.
proto::Result<Options> reparse(const std::vector<std::string>& argv);

/// The effective configuration as TOML, suitable as a config file.
std::string effective_config(const Options& options);

}  // namespace fastmd::daemon
