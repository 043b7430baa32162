// adaptive_spin.hpp — how long a thread that waits for a peer polls before it sleeps. A
// wake-up costs tens of µs here, far more than a poll of a ring, but a spin that does not pay
// burns a core. Given a budget (spin_budget, Node's spinUs, --spin-us), every wait spins up
// to it, 0 never. By default a wait spins only
//   - while a core is free: at least two cores, and the machine's runnable threads, read at
//     most once per policy::kCpuLoadSampleEvery (platform/cpu_load.hpp), no more than them;
//   - for twice the time within which three in four of the last eight waits ended (within
//     policy::kSpinLearnedMin and kSpinLearnedMax), when that time is at most kSpinLearnedMax;
//     otherwise not at all, but for a short probe every kProbeEvery waits.
// A wait that slept is learned with its wake-up included; a wait given up for other work is
// learned when it ends. The rounds of an Endpoint and a Client's synchronous calls each have
// one.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

namespace fastmd::ipc::detail {

class AdaptiveSpin {
 public:
  using Clock = std::chrono::steady_clock;
  /// Whether a core is free for a spin now (the default asks platform/cpu_load.hpp).
  using CoreProbe = bool (*)();

  /// `budget`: spin up to that long every wait (0: never); nullopt: the default, learned.
  explicit AdaptiveSpin(std::optional<std::chrono::microseconds> budget,
                        CoreProbe core_free = machine_has_free_core);

  /// What the wait that begins now may spin: the fixed budget, or the learned one (0 while
  /// no core is free or answers come slowly; once in a while a short probe even then, so a
  /// peer that became quick is found again). Ask once per wait.
  std::chrono::microseconds budget_now();

  /// One wait that began at `began`, with its budget_now(): calls `ready()` until it is true
  /// (true: learned as ended then), or the budget is spent or `stop()` is true (false:
  /// the caller sleeps, then calls slept(began)). Any thread (threads that wait at once
  /// share what they learn).
  template <class Ready, class Stop>
  bool spin(Clock::time_point began, std::chrono::microseconds budget, Ready&& ready, Stop&& stop) {
    if (budget.count() == 0) return false;
    const Clock::time_point until = began + budget;
    do {
      if (ready()) {
        learn(Clock::now() - began);
        return true;
      }
    } while (!stop() && Clock::now() < until);
    return false;
  }
  template <class Ready>
  bool spin(Clock::time_point began, std::chrono::microseconds budget, Ready&& ready) {
    return spin(began, budget, std::forward<Ready>(ready), [] { return false; });
  }

  /// A wait that spin() did not end ended now, after a sleep.
  void slept(Clock::time_point began) { learn(Clock::now() - began); }

  static constexpr std::size_t kWindow = 8;  // waits learned from
  /// Of the waits whose learned budget is 0, every this many spins policy::kSpinLearnedMin.
  static constexpr std::uint32_t kProbeEvery = 32;
  /// The learned budget for the last waits (µs), a core being free.
  static std::chrono::microseconds learned_budget(std::array<std::uint32_t, kWindow> waits_us);
  /// The machine's answer (platform::CpuLoadReader, sampled at most once per
  /// policy::kCpuLoadSampleEvery for the whole process): at least two cores this process may
  /// use, and no more runnable threads than them (this one among them).
  static bool machine_has_free_core();

 private:
  void learn(Clock::duration waited);

  std::optional<std::chrono::microseconds> fixed_;
  CoreProbe core_free_;
  std::array<std::atomic<std::uint32_t>, kWindow> waits_us_{};  // the last waits, saturated
  std::atomic<std::uint32_t> next_{0};                          // the slot written next
  std::atomic<std::uint32_t> idle_waits_{0};                    // waits with a learned 0
};

}  // namespace fastmd::ipc::detail
