// The per-user daemon's mode (see user_mode.hpp).
#include "user_mode.hpp"

#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include <toml++/toml.h>

#include "executable_search.hpp"
#include "pools/pool_spec_reader.hpp"
#include "user_daemon_dir.hpp"

namespace fastmd::daemon {

proto::Status enter_user_mode(Options& options) {
  options.socket_path = ipc::detail::user_daemon_socket();
  return ipc::detail::prepare_private_dir(ipc::detail::user_daemon_dir());
}

proto::Result<std::vector<PoolSpec>> user_mode_default_pools() {
  // The worker installed beside this daemon; where the platform cannot say where that is
  // (platform::own_executable_path), the executable search's other places.
  std::string worker;
  if (const std::string own_dir = ipc::detail::own_executable_dir(); !own_dir.empty()) {
    worker = own_dir + "/fastmd-worker-md";
  } else {
    auto found = ipc::detail::find_executable("fastmd-worker-md", {});
    if (!found) {
      return proto::Error{
          proto::Errc::invalid_field,
          "--user: the built-in markdown pool cannot be used: " + found.error().message};
    }
    worker = std::move(*found);
  }
  toml::array pools;
  pools.push_back(
      toml::table{{"name", "markdown"}, {"command", toml::array{worker}}, {"start", "on-demand"}});
  std::string problems;
  auto specs = read_pool_specs(pools, [&problems](toml::source_position, std::string what) {
    problems += (problems.empty() ? "" : "; ") + what;
  });
  if (!problems.empty()) {
    return proto::Error{proto::Errc::invalid_field,
                        "--user: the built-in markdown pool cannot be used: " + problems};
  }
  return specs;
}

IdleExit::IdleExit(asio::io_context& io, const Broker& broker, Listener& listener,
                   std::chrono::seconds idle, std::function<void()> exit)
    : timer_(io),
      broker_(broker),
      listener_(listener),
      idle_(idle),
      exit_(std::move(exit)),
      idle_since_(std::chrono::steady_clock::now()) {}

void IdleExit::start() {
  if (idle_.count() == 0) return;
  schedule(std::chrono::milliseconds(0));
}

void IdleExit::schedule(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this](asio::error_code error) {
    if (!error) check();
  });
}

bool IdleExit::only_own_workers() const {
  return std::all_of(broker_.sessions().begin(), broker_.sessions().end(), [](const auto& entry) {
    const Session& session = *entry.second;
    return session.state() == Session::State::established &&
           session.hello().role == proto::Role::worker && session.spawned();
  });
}

void IdleExit::check() {
  // A quarter of the timeout between checks (at least 50 ms, at most 1 s) bounds the overshoot.
  const auto period = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(idle_) / 4,
      std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
  const auto now = std::chrono::steady_clock::now();
  if (!only_own_workers()) {
    idle_since_ = now;
    schedule(period);
    return;
  }
  if (retired_) {
    exit_();
    return;
  }
  if (now - idle_since_ < idle_) {
    schedule(period);
    return;
  }
  if (!retire()) {
    schedule(period);
    return;
  }
  // Connections that were in the backlog when the socket went are accepted by now or at the
  // next turn of the loop; a short pause lets them become sessions, which keeps the daemon up.
  schedule(std::chrono::milliseconds(50));
}

bool IdleExit::retire() {
  const std::string dir = ipc::detail::user_daemon_dir();
  auto lock = ipc::detail::StartLock::acquire(dir, std::chrono::milliseconds(0));
  if (!lock && lock.error().code == proto::Errc::daemon_unreachable) {
    return false;  // a client holds it, starting or connecting: look again later
  }
  if (!lock) {
    // The directory is gone (a cleaned /tmp, a removed runtime directory) or broken: no client
    // can reach this daemon through it any more, so it exits rather than wait for ever.
    spdlog::warn("cannot take the start lock: {}; exiting without it", lock.error().to_string());
  }
  spdlog::info("idle for {} s with no client: removing {} and exiting", idle_.count(),
               listener_.path());
  listener_.retire();
  ::unlink(ipc::detail::user_daemon_log().c_str());
  if (lock) lock->remove_file();
  ::rmdir(dir.c_str());  // only when nothing else is in it
  retired_ = true;
  return true;
}

}  // namespace fastmd::daemon
