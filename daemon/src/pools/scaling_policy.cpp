// A pool's scaling decision (see scaling_policy.hpp).
#include "pools/scaling_policy.hpp"

#include <algorithm>

namespace fastmd::daemon::pools {

namespace {

bool saturated(const WorkerView& worker) {
  return worker.in_flight >= worker.concurrency;
}

bool listed(const std::vector<std::uint64_t>& ids, std::uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void add_reason(ScalingDecision& out, const std::string& reason) {
  if (!out.why.empty()) out.why += "; ";
  out.why += reason;
}

std::string ms(std::chrono::milliseconds value) {
  return std::to_string(value.count()) + " ms";
}

}  // namespace

std::uint32_t worker_concurrency(const std::vector<proto::MethodSpec>& methods) {
  std::uint32_t most = 1;
  for (const proto::MethodSpec& method : methods) most = std::max(most, method.concurrency);
  return most;
}

ScalingDecision ScalingPolicy::decide(const PoolView& pool, ScalingClock::time_point now) {
  ScalingDecision out;
  unsigned starting = 0;
  unsigned ready = 0;
  for (const WorkerView& worker : pool.workers) {
    if (worker.phase == WorkerPhase::starting) ++starting;
    if (worker.phase == WorkerPhase::ready) ++ready;
  }
  plan_recycle(pool, out);
  // The workers that will serve once this decision is carried out: a recycled worker is
  // replaced by its replacement (counted in starting or out.start), not added to it.
  const unsigned recycled_pending = recycling_ ? 1u : 0u;
  const unsigned serving =
      starting + ready + out.start - recycled_pending - static_cast<unsigned>(out.recycle.size());
  plan_growth(pool, now, serving, starting, out);
  if (starting == 0 && out.start == 0) {
    plan_idle_stops(pool, now, ready - static_cast<unsigned>(out.recycle.size()), out);
  }
  return out;
}

void ScalingPolicy::plan_recycle(const PoolView& pool, ScalingDecision& out) {
  if (pool.rules.max_requests == 0) {
    recycling_.reset();
    return;
  }
  if (recycling_) {
    const auto old = std::find_if(pool.workers.begin(), pool.workers.end(),
                                  [&](const WorkerView& w) { return w.id == recycling_->worker; });
    if (old == pool.workers.end() || old->phase != WorkerPhase::ready) {
      recycling_.reset();  // it ended or is being stopped anyway: nothing left to replace
    } else {
      bool replacement_ready = false;
      bool replacement_alive = false;
      for (const WorkerView& worker : pool.workers) {
        if (recycling_->before.count(worker.id) != 0) continue;
        replacement_alive = replacement_alive || worker.phase != WorkerPhase::draining;
        replacement_ready = replacement_ready || worker.phase == WorkerPhase::ready;
      }
      if (replacement_ready) {
        out.recycle.push_back(old->id);
        add_reason(out, "recycle worker " + std::to_string(old->id) + ": it served " +
                            std::to_string(old->served) + " requests (max-requests " +
                            std::to_string(pool.rules.max_requests) +
                            ") and its replacement is ready");
        recycling_.reset();
      } else if (!replacement_alive) {
        // The replacement died before it was ready: ask for another; the old one serves on.
        recycling_->before.clear();
        for (const WorkerView& worker : pool.workers) recycling_->before.insert(worker.id);
        ++out.start;
        add_reason(out, "start a replacement for worker " + std::to_string(old->id) +
                            " again (the last one ended before it was ready)");
      }
      return;  // one recycle at a time
    }
  }
  const WorkerView* worn = nullptr;
  for (const WorkerView& worker : pool.workers) {
    if (worker.phase != WorkerPhase::ready || !worker.load_known ||
        worker.served < pool.rules.max_requests) {
      continue;
    }
    if (!worn || worker.served > worn->served) worn = &worker;
  }
  if (!worn) return;
  Recycle recycle{worn->id, {}};
  for (const WorkerView& worker : pool.workers) recycle.before.insert(worker.id);
  recycling_ = std::move(recycle);
  ++out.start;
  add_reason(out, "start a replacement for worker " + std::to_string(worn->id) + ": it served " +
                      std::to_string(worn->served) + " requests (max-requests " +
                      std::to_string(pool.rules.max_requests) + ")");
}

void ScalingPolicy::plan_growth(const PoolView& pool, ScalingClock::time_point now,
                                unsigned serving, unsigned starting, ScalingDecision& out) {
  const ScalingRules& rules = pool.rules;
  if (serving < rules.min) {
    out.start += rules.min - serving;
    add_reason(out, "start " + std::to_string(rules.min - serving) + " to keep min " +
                        std::to_string(rules.min));
    saturated_since_.reset();
    return;
  }
  if (serving == 0 && pool.demand && rules.max > 0) {
    ++out.start;
    add_reason(out, "start 1: a client waits for a method of the pool and no worker runs");
    saturated_since_.reset();
    return;
  }
  // Saturation counts only while no worker is on its way: a new worker must be ready, and the
  // pool saturated for a whole kSaturationSustain with it, before the next one starts.
  bool all_saturated = starting == 0 && out.start == 0;
  unsigned ready = 0;
  for (const WorkerView& worker : pool.workers) {
    if (worker.phase != WorkerPhase::ready || listed(out.recycle, worker.id)) continue;
    ++ready;
    all_saturated = all_saturated && saturated(worker);
  }
  if (ready == 0 || !all_saturated) {
    saturated_since_.reset();
    return;
  }
  if (!saturated_since_) saturated_since_ = now;
  const auto lasted =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - *saturated_since_);
  if (lasted < kSaturationSustain || serving >= rules.max) return;
  ++out.start;
  add_reason(out, "start 1: all " + std::to_string(ready) + " ready workers saturated for " +
                      ms(lasted) + " (max " + std::to_string(rules.max) + ")");
  saturated_since_.reset();
}

void ScalingPolicy::plan_idle_stops(const PoolView& pool, ScalingClock::time_point now,
                                    unsigned serving, ScalingDecision& out) const {
  const ScalingRules& rules = pool.rules;
  if (rules.idle_stop.count() == 0 || pool.demand || serving <= rules.min) return;
  std::vector<const WorkerView*> idle;
  for (const WorkerView& worker : pool.workers) {
    if (worker.phase != WorkerPhase::ready || !worker.load_known || worker.in_flight != 0) {
      continue;
    }
    if (listed(out.recycle, worker.id) || (recycling_ && recycling_->worker == worker.id)) continue;
    if (now - worker.load_changed_at >= rules.idle_stop) idle.push_back(&worker);
  }
  std::sort(idle.begin(), idle.end(), [](const WorkerView* a, const WorkerView* b) {
    return a->load_changed_at != b->load_changed_at ? a->load_changed_at < b->load_changed_at
                                                    : a->id < b->id;
  });
  const std::size_t stoppable = std::min<std::size_t>(idle.size(), serving - rules.min);
  for (std::size_t i = 0; i < stoppable; ++i) out.stop.push_back(idle[i]->id);
  if (stoppable > 0) {
    add_reason(out, "stop " + std::to_string(stoppable) + " idle for at least " +
                        std::to_string(rules.idle_stop.count()) + " s (min " +
                        std::to_string(rules.min) + ")");
  }
}

}  // namespace fastmd::daemon::pools
