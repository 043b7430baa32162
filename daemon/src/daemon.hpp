// daemon.hpp — fastmd-ipcd as a whole: one io_context on one thread running the listener, the
// broker and its sessions, signal handling (SIGTERM/SIGINT drain and exit 0, SIGHUP reloads
// the log level and limits) and the systemd notifications.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "broker.hpp"
#include "config.hpp"
#include "listener.hpp"
#include "pools/supervisor.hpp"
#include "service_notifier.hpp"
#include "user_mode.hpp"

namespace fastmd::daemon {

class Daemon {
 public:
  /// `argv` is kept to re-read the same flags and config file on SIGHUP.
  Daemon(Options options, std::vector<std::string> argv);
  ~Daemon();

  /// Opens (or adopts) the socket and starts accepting; fails with a message for the log.
  proto::Status start();

  /// Serves until SIGTERM/SIGINT has drained every session; returns the exit code.
  int run();

 private:
  void wait_for_signals();
  void reload();
  void shut_down(const std::string& why);
  /// One of the two parts of the shutdown (sessions drained, pool workers gone) is done.
  void shutdown_part_done();
  void stop();

  asio::io_context io_;  // first: destroyed last, after everything that uses it
  Options options_;
  std::vector<std::string> argv_;
  std::chrono::steady_clock::time_point started_;
  ServiceNotifier notifier_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  std::unique_ptr<Listener> listener_;
  std::optional<Pools> pools_;  // before the broker: sessions return their leases on the way out
  Broker broker_;
  std::unique_ptr<Supervisor> supervisor_;  // after the broker: its workers' sessions live there
  std::unique_ptr<IdleExit> idle_exit_;     // --user only
  bool shutting_down_ = false;
  int shutdown_parts_left_ = 0;
};

/// Applies a --log-level value to the process's logger.
void set_log_level(const std::string& level);

}  // namespace fastmd::daemon
