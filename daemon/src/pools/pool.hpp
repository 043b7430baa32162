// pool.hpp — one worker pool at run time: its spec, its live workers (each a spawned process
// whose control socket is a broker session), how many it wants running, restarts of crashed
// workers with doubling backoff, the crash-loop stop, the methods it serves (declared, or
// learned from the first worker's hello), and its draining when removed or at shutdown.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "broker.hpp"
#include "fastmd/proto/codec.hpp"
#include "pools/pool_spec.hpp"
#include "pools/scaling_policy.hpp"
#include "pools/worker_process.hpp"

namespace fastmd::daemon {

enum class PoolState : std::uint8_t {
  ready,          // serving, or able to start workers on demand
  starting,       // workers started, none has completed its hello yet
  draining,       // removed (SIGHUP) or the daemon stops: workers asked to finish and exit
  crash_looping,  // too many exits within the window: no more restarts until SIGHUP changes it
};

enum class WorkerState : std::uint8_t {
  starting,  // spawned, its hello not seen yet
  ready,     // its session is established
  stopping,  // asked to exit (SIGTERM): scaled down, recycled, or its pool drains
};

std::string_view pool_state_name(PoolState state);
std::string_view worker_state_name(WorkerState state);

class Pool {
 public:
  Pool(asio::io_context& io, Broker& broker, PoolSpec spec);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// Starts the workers the spec asks for at start (and one to learn undeclared methods).
  void start();

  /// A client waits for a method this pool serves: starts a worker unless one is starting.
  /// false when none can be started (crash-looping, draining, or at `max`).
  bool request_worker();

  /// Applies a changed spec (SIGHUP): new limits and command for later workers; workers above
  /// the new `max` stop, missing ones up to the new `min` start; a crash loop is forgiven.
  void update(PoolSpec spec);

  /// How long after the drain bound a stopping worker may take to answer what it still holds
  /// (WORKER_STOPPING), let its running handlers finish and exit, before it is killed.
  static constexpr std::chrono::milliseconds kExitGrace{1000};

  /// Stops every worker: SIGTERM now (each drains its channels within `bound`, the daemon's
  /// drain bound), SIGKILL kExitGrace later; `on_empty` runs once none is left (at once when
  /// none runs). No restarts from then on.
  void drain(std::chrono::milliseconds bound, std::function<void()> on_empty);

  /// Looks at the workers' sessions: who completed its hello, the methods to learn.
  void refresh();

  /// Runs the scaling policy (pools/scaling_policy.hpp) on the workers' last load and carries
  /// out its decision: start workers, stop idle ones, recycle worn ones. The supervisor's tick.
  void scale(std::chrono::steady_clock::time_point now);

  const PoolSpec& spec() const { return spec_; }
  PoolState state() const;
  /// Declared methods, else those learned from a worker's hello (empty until then).
  const std::vector<std::string>& methods() const {
    return spec_.methods.empty() ? learned_methods_ : spec_.methods;
  }
  std::size_t live_workers() const { return workers_.size(); }
  /// Methods undeclared and not learned yet, while a worker may still come to tell them.
  bool learning_methods() const {
    return methods().empty() && state() != PoolState::draining &&
           state() != PoolState::crash_looping;
  }

  /// The pool's entry of ipc.status `worker_pools` (PROTOCOL.md §3.4): its first
  /// kMaxListedWorkers workers, and workers_total.
  void write_status(proto::Packer& packer) const;
  static constexpr std::size_t kMaxListedWorkers = 32;

 private:
  struct Worker {
    std::uint64_t id = 0;  // never reused within the daemon's run (pids may be)
    std::unique_ptr<WorkerProcess> process;
    std::uint64_t session = 0;
    WorkerState state = WorkerState::starting;
    std::chrono::steady_clock::time_point started;
  };

  /// Starts workers until `wanted_` run (none while crash-looping or draining).
  void fill();
  bool spawn_one();
  void exited(pid_t pid, int wait_status);
  void note_failure(int wait_status);
  void schedule_restart();
  std::size_t counted_workers() const;  // workers not asked to stop
  void stop_worker(Worker& worker);
  /// The worker's session, when it is still there.
  const Session* session_of(const Worker& worker) const;

  asio::io_context& io_;
  Broker& broker_;
  PoolSpec spec_;
  std::vector<std::string> learned_methods_;
  std::map<pid_t, Worker> workers_;
  std::uint32_t wanted_ = 0;  // workers the pool keeps running now (min <= wanted <= max)
  std::uint64_t restarts_ = 0;
  std::vector<std::chrono::steady_clock::time_point> failures_;  // within the crash-loop window
  std::optional<int> last_exit_;
  bool crash_looping_ = false;
  bool draining_ = false;
  std::chrono::milliseconds backoff_;
  asio::steady_timer restart_timer_;
  bool restart_pending_ = false;
  asio::steady_timer kill_timer_;
  std::function<void()> on_empty_;
  pools::ScalingPolicy policy_;
  bool demand_ = false;  // a client waits for a method of this pool (until a worker is ready)
  std::uint64_t next_worker_id_ = 1;
};

}  // namespace fastmd::daemon
