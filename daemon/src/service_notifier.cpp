// systemd notifications (see service_notifier.hpp).
#include "service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace fastmd::daemon {

namespace {

void notify(const std::string& state) {
  // unset_environment = 0: a reload must still find NOTIFY_SOCKET.
  (void)::sd_notify(0, state.c_str());
}

}  // namespace

void ServiceNotifier::ready(const std::string& text) {
  notify("READY=1\nSTATUS=" + text);
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    schedule_watchdog();
  }
}

void ServiceNotifier::reloading() {
  notify("RELOADING=1");
}

void ServiceNotifier::stopping(const std::string& text) {
  watchdog_timer_.cancel();
  notify("STOPPING=1\nSTATUS=" + text);
}

void ServiceNotifier::status(const std::string& text) {
  notify("STATUS=" + text);
}

void ServiceNotifier::schedule_watchdog() {
  watchdog_timer_.expires_after(watchdog_interval_);
  watchdog_timer_.async_wait([this](asio::error_code error) {
    if (error) return;
    notify("WATCHDOG=1");
    schedule_watchdog();
  });
}

}  // namespace fastmd::daemon
