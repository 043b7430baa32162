// adaptive_spin.cpp — the default spin's two questions: is a core free (the scheduler's count,
// sampled at most once per policy::kCpuLoadSampleEvery for the whole process), and how long
// did recent waits take.
#include "adaptive_spin.hpp"

#include <algorithm>
#include <limits>

#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/platform/cpu_load.hpp"

namespace fastmd::ipc::detail {

AdaptiveSpin::AdaptiveSpin(std::optional<std::chrono::microseconds> budget, CoreProbe core_free)
    // Bounded, so that began + budget cannot overflow.
    : fixed_(budget ? std::optional(
                          std::min(*budget, std::chrono::microseconds(std::chrono::hours(1))))
                    : std::nullopt),
      core_free_(core_free) {}

bool AdaptiveSpin::machine_has_free_core() {
  using Clock = AdaptiveSpin::Clock;
  static const platform::CpuLoadReader reader;
  static std::atomic<Clock::rep> next_sample{0};
  static std::atomic<bool> free{true};
  const Clock::rep now = Clock::now().time_since_epoch().count();
  Clock::rep due = next_sample.load(std::memory_order_relaxed);
  // One thread samples when due; the others use the last answer meanwhile.
  if (now >= due &&
      next_sample.compare_exchange_strong(
          due,
          now + std::chrono::duration_cast<Clock::duration>(policy::kCpuLoadSampleEvery).count(),
          std::memory_order_relaxed)) {
    const std::optional<platform::CpuLoad> load = reader.read();
    // A platform that cannot tell counts as free. With one core a spin would hold the core
    // the peer needs.
    free.store(!load || (load->cores >= 2 && load->runnable <= load->cores),
               std::memory_order_relaxed);
  }
  return free.load(std::memory_order_relaxed);
}

std::chrono::microseconds AdaptiveSpin::budget_now() {
  if (fixed_) return *fixed_;
  std::array<std::uint32_t, kWindow> waits;
  for (std::size_t i = 0; i < kWindow; ++i) waits[i] = waits_us_[i].load(std::memory_order_relaxed);
  std::chrono::microseconds budget = learned_budget(waits);
  // A wait that slept is learned with its wake-up: where that alone is over the most, only a
  // probe now and then finds out that the peer became quick.
  if (budget.count() == 0 &&
      idle_waits_.fetch_add(1, std::memory_order_relaxed) % kProbeEvery == kProbeEvery - 1) {
    budget = policy::kSpinLearnedMin;
  }
  return budget.count() > 0 && core_free_() ? budget : std::chrono::microseconds(0);
}

std::chrono::microseconds AdaptiveSpin::learned_budget(
    std::array<std::uint32_t, kWindow> waits_us) {
  // Three in four of the last waits ended within `quick`.
  const auto quick_at = waits_us.begin() + (kWindow * 3 / 4 - 1);
  std::nth_element(waits_us.begin(), quick_at, waits_us.end());
  const std::chrono::microseconds quick(*quick_at);
  if (quick > policy::kSpinLearnedMax) return std::chrono::microseconds(0);
  return std::clamp(2 * quick, policy::kSpinLearnedMin, policy::kSpinLearnedMax);
}

void AdaptiveSpin::learn(Clock::duration waited) {
  if (fixed_) return;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(waited).count();
  const auto saturated = static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(us, 0, std::numeric_limits<std::uint32_t>::max()));
  const std::uint32_t slot = next_.fetch_add(1, std::memory_order_relaxed) % kWindow;
  waits_us_[slot].store(saturated, std::memory_order_relaxed);
}

}  // namespace fastmd::ipc::detail
