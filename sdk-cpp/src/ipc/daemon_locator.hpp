// daemon_locator.hpp — finds the fastmd-ipcd a client should use, or starts one: the one
// place where `auto` is decided, for C++ Client::connect and (through the addon's
// locateDaemon) for Node's connect(). In order:
//   1. a socket path the caller configured (option or $FASTMD_IPC_SOCKET): that one only;
//   2. the system daemon (/run/fastmd/ipcd.sock, the systemd socket unit) when it answers;
//   3. the per-user daemon (user_daemon_dir.hpp) when it answers; otherwise it is started
//      (`fastmd-ipcd --user`, found by executable_search.hpp) under the start lock, detached
//      (its own session, reparented away from the caller, stdin and stdout on /dev/null,
//      stderr in ipcd.log in its directory), and awaited, bounded, until its socket answers.
// Failing that, the error (DAEMON_UNREACHABLE or PERMISSION_DENIED) names what failed.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

/// The systemd socket unit's path (systemd/fastmd-ipcd.socket).
inline constexpr std::string_view kSystemSocketPath = "/run/fastmd/ipcd.sock";

enum class DaemonSource {
  configured,    // the caller's option or $FASTMD_IPC_SOCKET (not probed: the caller connects)
  system,        // the system daemon answered
  user_running,  // the per-user daemon answered
  user_started,  // the per-user daemon was started by this call
};

/// "configured", "system", "user-running", "user-started".
std::string_view daemon_source_name(DaemonSource source);

struct DaemonLocation {
  std::string socket_path;
  DaemonSource source = DaemonSource::configured;
};

struct LocateOptions {
  /// A configured socket path; empty: $FASTMD_IPC_SOCKET, else search as above.
  std::string socket_path;
  /// Where fastmd-ipcd is looked for after $FASTMD_IPC_SOCKET and before PATH; empty: the
  /// directory of the running executable.
  std::vector<std::string> caller_dirs;
  /// Bound of the wait for the start lock and then for a started daemon's socket.
  std::chrono::milliseconds start_timeout{10000};
};

/// Finds or starts the daemon, as above.
///
///     auto where = detail::locate_daemon({});
///     if (where) options.socket_path = where->socket_path;
proto::Result<DaemonLocation> locate_daemon(const LocateOptions& options);

/// What `auto` chose: fast at `location`, or legacy because of `reason`.
struct AutoChoice {
  bool fast = true;
  DaemonLocation location;
  std::string reason;
};

/// The rollout decision (rollout.hpp), then, for fast, locate_daemon(). A bad
/// $FASTMD_IPC_ROLLOUT and a failed locate are errors (the caller falls back and says why).
proto::Result<AutoChoice> choose_auto(const LocateOptions& options);

}  // namespace fastmd::ipc::detail
