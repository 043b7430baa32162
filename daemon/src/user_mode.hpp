// user_mode.hpp — `fastmd-ipcd --user`, the per-user daemon that clients start on first use
// (sdk-cpp/src/ipc/daemon_locator.hpp). It listens in the per-user directory (prepared here,
// refused when another uid owns it or its mode is not 0700) and exits once it has served no
// session but its own pool workers for --idle-exit-s. The exit is race-free with clients
// starting it: under the start lock the daemon removes its socket, instance lock, log and the
// start lock itself, so a client that comes later starts a fresh daemon; connections that were
// already in the listen backlog are still accepted and served before it exits.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "broker.hpp"
#include "config.hpp"
#include "listener.hpp"
#include "pools/pool_spec.hpp"

namespace fastmd::daemon {

/// Before anything is bound: points `options` at the per-user socket and prepares its
/// directory. PERMISSION_DENIED naming the directory and what is wrong with it.
proto::Status enter_user_mode(Options& options);

/// The built-in pool of --user (when the config file has no `[[pool]]`): `markdown`, the
/// fastmd-worker-md in the directory of this fastmd-ipcd (where the platform cannot tell that
/// directory, the first one the executable search finds: FASTMD_BIN_DIR, PATH, the sbin
/// directories), started on demand, every other key
/// at its `[[pool]]` default. Read by the config's own pool reader, so the defaults and checks
/// are the config file's; INVALID_FIELD saying what is wrong (e.g. no worker beside the binary).
proto::Result<std::vector<PoolSpec>> user_mode_default_pools();

/// Watches for idleness and retires the daemon (see above), then calls `exit`.
class IdleExit {
 public:
  IdleExit(asio::io_context& io, const Broker& broker, Listener& listener,
           std::chrono::seconds idle, std::function<void()> exit);

  /// Starts watching; does nothing when `idle` is 0.
  void start();

 private:
  void schedule(std::chrono::milliseconds after);
  void check();
  /// True when every session is an established worker this daemon started.
  bool only_own_workers() const;
  /// Under the start lock: removes the daemon's files so the next client starts a new one.
  bool retire();

  asio::steady_timer timer_;
  const Broker& broker_;
  Listener& listener_;
  std::chrono::seconds idle_;
  std::function<void()> exit_;
  std::chrono::steady_clock::time_point idle_since_;
  bool retired_ = false;
};

}  // namespace fastmd::daemon
