// Service manager notifications (see service_notifier.hpp); the protocol itself is the
// platform's (platform/service_manager.hpp).
#include "service_notifier.hpp"

#include "platform/service_manager.hpp"

namespace fastmd::daemon {

namespace {

void notify(const std::string& state) {
  platform::notify_service_manager(state);
}

}  // namespace

void ServiceNotifier::ready(const std::string& text) {
  notify("READY=1\nSTATUS=" + text);
  watchdog_interval_ = platform::watchdog_keepalive_interval();
  if (watchdog_interval_.count() > 0) schedule_watchdog();
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
