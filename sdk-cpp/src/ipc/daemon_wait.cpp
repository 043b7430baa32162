// A worker's first connection, retried while the daemon is not up yet (see daemon_wait.hpp).
#include "daemon_wait.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

namespace fastmd::ipc::detail {

using Clock = std::chrono::steady_clock;
using proto::Errc;

namespace {

bool worth_waiting_for(Errc code) {
  return code == Errc::daemon_unreachable || code == Errc::daemon_shutting_down;
}

// Sleeps up to `pause`; false when `stop_fd` became readable.
bool pause_unless_stopped(int stop_fd, std::chrono::milliseconds pause) {
  pollfd stop{stop_fd, POLLIN, 0};
  int ready;
  while ((ready = ::poll(&stop, 1, static_cast<int>(pause.count()))) < 0 && errno == EINTR) {
  }
  return ready == 0;
}

}  // namespace

proto::Status connect_waiting(const std::function<proto::Status()>& connect,
                              const DaemonWait& wait) {
  proto::Status attempt = connect();
  if (attempt || wait.wait.count() <= 0 || !worth_waiting_for(attempt.error().code)) {
    return attempt;
  }
  const bool forever = wait.wait == std::chrono::milliseconds::max();
  const Clock::time_point deadline = forever ? Clock::time_point::max() : Clock::now() + wait.wait;
  if (forever) {
    spdlog::info("waiting for the daemon at {} ({}); retrying until it answers", wait.socket_path,
                 attempt.error().to_string());
  } else {
    spdlog::info("waiting for the daemon at {} ({}); retrying for up to {} s", wait.socket_path,
                 attempt.error().to_string(), wait.wait.count() / 1000.0);
  }
  std::chrono::milliseconds pause = std::max(wait.backoff_min, std::chrono::milliseconds{1});
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) return attempt;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    if (!pause_unless_stopped(wait.stop_fd, std::min(pause, left))) {
      return proto::Error{Errc::cancelled,
                          "stopped while waiting for the daemon at " + wait.socket_path};
    }
    pause = std::min(pause * 2, std::max(wait.backoff_max, pause));
    attempt = connect();
    if (attempt || !worth_waiting_for(attempt.error().code)) {
      if (attempt) spdlog::info("the daemon at {} answered", wait.socket_path);
      return attempt;
    }
  }
}

}  // namespace fastmd::ipc::detail
