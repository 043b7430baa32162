// adaptive_spin.hpp — how long a thread that waits for a peer polls before it sleeps. A
// wake-up costs tens of µs here, far more than a poll of a ring, but a spin that does not pay
// burns a core. Given a budget (spin_budget, Node's spinUs, --spin-us), every wait spins up
// to it, 0 never. By default a wait spins only
//   - while a core is free: the machine's runnable threads, read at most once per
//     policy::kCpuLoadSampleEvery (platform/cpu_load.hpp), are no more than its cores; and
//   - for twice the time within which three in four of the last eight waits ended (within
//     policy::kSpinLearnedMin and kSpinLearnedMax), when that time is at most kSpinLearnedMax;
//     not at all when answers come more slowly.
// A wait that slept is learned with its wake-up included, so a peer that became quick is
// spun for again. The rounds of an Endpoint and a Client's synchronous calls each have one.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace fastmd::ipc::detail {

class AdaptiveSpin {
 public:
  using Clock = std::chrono::steady_clock;

  /// `budget`: spin up to that long every wait (0: never); nullopt: the default, learned.
  explicit AdaptiveSpin(std::optional<std::chrono::microseconds> budget) : fixed_(budget) {}

  /// One wait that began at `began`: calls `ready()` until it is true or this wait's budget
  /// is spent; whether it became true. When false, the caller sleeps and then calls
  /// slept(began). Any thread (threads that wait at once share what they learn).
  template <class Ready>
  bool spin(Clock::time_point began, Ready&& ready) {
    const std::chrono::microseconds budget = budget_now();
    if (budget.count() == 0) return false;
    const Clock::time_point until = began + budget;
    do {
      if (ready()) {
        learn(Clock::now() - began);
        return true;
      }
    } while (Clock::now() < until);
    return false;
  }

  /// A wait that spin() did not end ended now, after a sleep.
  void slept(Clock::time_point began) { learn(Clock::now() - began); }

  /// What this wait may spin now: the fixed budget, or the learned one (0 while no core is
  /// free or answers come slowly).
  std::chrono::microseconds budget_now();

  static constexpr std::size_t kWindow = 8;  // waits learned from
  /// The learned budget for the last waits (µs), a core being free.
  static std::chrono::microseconds learned_budget(std::array<std::uint32_t, kWindow> waits_us);

 private:
  void learn(Clock::duration waited);

  std::optional<std::chrono::microseconds> fixed_;
  std::array<std::atomic<std::uint32_t>, kWindow> waits_us_{};  // the last waits, saturated
  std::atomic<std::uint32_t> next_{0};                          // the slot written next
};

}  // namespace fastmd::ipc::detail
