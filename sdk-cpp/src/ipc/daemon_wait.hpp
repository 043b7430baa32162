// daemon_wait.hpp — a worker's first connection when the daemon may not be up yet (a worker
// started by hand or by systemd before fastmd-ipcd): retry with the endpoint's reconnect
// backoff instead of failing with DAEMON_UNREACHABLE at once.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

struct DaemonWait {
  /// The socket the attempts go to (for the log line).
  std::string socket_path;
  /// How long to keep trying; 0: one attempt; milliseconds::max(): until stopped.
  std::chrono::milliseconds wait{0};
  /// First and longest pause between attempts (EndpointOptions::reconnect_min/max), doubling.
  std::chrono::milliseconds backoff_min{0};
  std::chrono::milliseconds backoff_max{0};
  /// Readable when the wait is to end (the worker's stop wake-up; not consumed).
  int stop_fd = -1;
};

/// Calls `connect` until it succeeds, fails with an error other than DAEMON_UNREACHABLE or
/// DAEMON_SHUTTING_DOWN (a daemon that refuses stays refused), or `wait` has passed (then that
/// last error). Logs once that it waits and for which socket. CANCELLED when `stop_fd` became
/// readable first.
proto::Status connect_waiting(const std::function<proto::Status()>& connect,
                              const DaemonWait& wait);

}  // namespace fastmd::ipc::detail
