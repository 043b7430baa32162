// scaling_policy.hpp — how many workers a pool runs: the pure decision, no processes and no I/O,
// so it is tested with a fake clock (tests/daemon/test_scaling_policy.cpp). The supervisor
// calls decide() on its tick with what it knows of the pool's workers (their last ipc.load,
// PROTOCOL.md §3.10) and carries out the answer: start workers, drain idle ones, recycle worn
// ones. The numbers and why they are what they are: docs/operations.md, "Scaling".
//
//  - Up: when every ready worker has been saturated (in_flight >= its concurrency) for
//    kSaturationSustain without a break, one worker more, never above max; not again until it
//    is ready and the saturation has lasted that long once more (no burst of starts).
//  - Also up: to min, and to one when a client waits for the pool's method and none runs.
//  - Down: a worker idle (in_flight 0) for idle_stop is stopped, longest idle first, down to
//    min; never while a client waits, never a worker still starting.
//  - A worker whose load is unknown (no `reports_load` in its hello) is never stopped as idle
//    nor recycled.
//  - Recycle: a ready worker that served max_requests gets a replacement started first; it is
//    drained only once a worker started after that is ready, so capacity never drops to zero
//    (one recycle at a time per pool; the replacement may briefly make the pool max + 1).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fastmd/proto/control.hpp"

namespace fastmd::daemon::pools {

using ScalingClock = std::chrono::steady_clock;

/// How long every ready worker must be saturated, without a break, before one more starts.
inline constexpr std::chrono::milliseconds kSaturationSustain{500};

/// A pool's limits, from its config (`min`, `max` resolved to a number, `idle-stop-s`,
/// `max-requests`).
struct ScalingRules {
  unsigned min = 0;
  unsigned max = 1;
  std::chrono::seconds idle_stop{300};  // 0: never stop idle workers
  std::uint64_t max_requests = 0;       // 0: never recycle
};

enum class WorkerPhase : std::uint8_t {
  starting,  // spawned, no ipc.hello yet
  ready,     // serving
  draining,  // being stopped (idle, recycled, shutdown): no longer counted
};

/// One live worker of the pool as the supervisor sees it.
struct WorkerView {
  std::uint64_t id = 0;  // the supervisor's id, never reused within a daemon run
  WorkerPhase phase = WorkerPhase::starting;
  std::uint32_t concurrency = 1;  // worker_concurrency() of its hello's methods
  std::uint32_t in_flight = 0;    // its last ipc.load (0 before the first)
  std::uint64_t served = 0;       // the same
  // Its hello said `reports_load` (PROTOCOL.md §3.1). A worker that does not report is never
  // stopped as idle nor recycled: its zeros say nothing.
  bool load_known = true;
  // When its in_flight or served last changed (its hello before the first report): with
  // in_flight 0, since when it has been idle.
  ScalingClock::time_point load_changed_at;
};

struct PoolView {
  ScalingRules rules;
  bool demand = false;  // a client waits for a method of this pool
  std::vector<WorkerView> workers;
};

/// What the supervisor does now.
struct ScalingDecision {
  unsigned start = 0;                  // workers to start
  std::vector<std::uint64_t> stop;     // idle workers to drain and stop, longest idle first
  std::vector<std::uint64_t> recycle;  // workers to drain and stop: their replacement is ready
  std::string why;                     // for the log line; empty when there is nothing to do

  bool empty() const { return start == 0 && stop.empty() && recycle.empty(); }
};

/// How many calls a worker runs at once, from the methods of its hello: the largest method
/// concurrency (at least 1). Not their sum: a worker's methods share its handler threads (the
/// C++ SDK's Worker, and run_worker_main declares each method with the thread count), so
/// `fastmd-worker-md --concurrency 1` runs one call at a time although it declares three
/// methods of concurrency 1; counted as 3 it would look saturated only with two calls queued.
std::uint32_t worker_concurrency(const std::vector<proto::MethodSpec>& methods);

/// The policy of one pool. It keeps what a single look cannot tell: since when the pool has been
/// saturated, and which recycle is under way.
class ScalingPolicy {
 public:
  ScalingDecision decide(const PoolView& pool, ScalingClock::time_point now);

 private:
  struct Recycle {
    std::uint64_t worker = 0;
    std::set<std::uint64_t> before;  // the pool's workers when its replacement was asked for
  };

  void plan_recycle(const PoolView& pool, ScalingDecision& out);
  void plan_growth(const PoolView& pool, ScalingClock::time_point now, unsigned serving,
                   unsigned starting, ScalingDecision& out);
  void plan_idle_stops(const PoolView& pool, ScalingClock::time_point now, unsigned serving,
                       ScalingDecision& out) const;

  std::optional<ScalingClock::time_point> saturated_since_;
  std::optional<Recycle> recycling_;
};

}  // namespace fastmd::daemon::pools
