// supervisor.hpp — every worker pool of the daemon: started with the daemon, changed by SIGHUP
// (pools added, removed — drained, calls finishing — and resized), stopped after the daemon's
// drain at shutdown. It is the broker's WorkerDemand: the methods pools serve, and "start a
// worker for this method". Runs on the daemon's io_context; a periodic tick looks at the
// workers' sessions (readiness, methods to learn) and runs each pool's scaling policy.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "broker.hpp"
#include "fastmd/proto/codec.hpp"
#include "pools/pool.hpp"
#include "pools/pool_spec.hpp"
#include "worker_demand.hpp"

namespace fastmd::daemon {

class Supervisor final : public WorkerDemand {
 public:
  /// How often the supervisor looks at its workers' sessions.
  static constexpr std::chrono::milliseconds kTick{250};

  /// `stop_bound`: how long a worker of a removed pool may take to exit after SIGTERM before
  /// it gets SIGKILL.
  Supervisor(asio::io_context& io, Broker& broker, std::chrono::milliseconds stop_bound);
  ~Supervisor() override;

  /// Starts the pools of `specs` (at daemon start).
  void start(const std::vector<PoolSpec>& specs);

  /// Applies a reloaded config: new pools start, pools no longer configured drain (SIGTERM to
  /// their workers, which finish what they run), changed pools take their new spec.
  void apply(const std::vector<PoolSpec>& specs);

  /// Stops every worker (SIGTERM, SIGKILL after `bound`); `on_done` runs when none is left.
  void stop(std::chrono::milliseconds bound, std::function<void()> on_done);

  /// Writes the ipc.status `worker_pools` array (running pools, then draining ones): as many
  /// pools as fit kStatusBudget bytes, each with at most Pool::kMaxListedWorkers workers, so
  /// the whole report stays within one control frame.
  void write_status(proto::Packer& packer) const;
  static constexpr std::size_t kStatusBudget = 16 * 1024;

  // WorkerDemand
  std::vector<std::string> pool_methods() const override;
  bool learning_methods() const override;
  bool request_worker(const std::string& method) override;

 private:
  void schedule_tick();
  void tick();
  void retire(const std::string& name);

  asio::io_context& io_;
  Broker& broker_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;
  std::vector<std::unique_ptr<Pool>> retiring_;  // removed by SIGHUP, draining
  asio::steady_timer tick_timer_;
  bool stopping_ = false;
  std::chrono::milliseconds stop_bound_;
};

}  // namespace fastmd::daemon
