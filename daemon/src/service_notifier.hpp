// service_notifier.hpp — the daemon's side of systemd's notify protocol (sd_notify, through
// platform/service_manager.hpp): READY, RELOADING, STOPPING, STATUS, and WATCHDOG keep-alives
// at half the configured WatchdogSec. Outside systemd (no NOTIFY_SOCKET), and on platforms
// without it, every call is a no-op.
#pragma once

#include <chrono>
#include <string>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

namespace fastmd::daemon {

class ServiceNotifier {
 public:
  explicit ServiceNotifier(asio::io_context& io) : watchdog_timer_(io) {}

  /// READY=1 with a STATUS line, and starts the watchdog keep-alives if WatchdogSec= is set.
  void ready(const std::string& status);
  void reloading();
  void stopping(const std::string& status);
  void status(const std::string& status);

 private:
  void schedule_watchdog();

  asio::steady_timer watchdog_timer_;
  std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace fastmd::daemon
