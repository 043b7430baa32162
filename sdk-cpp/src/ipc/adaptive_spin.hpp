// adaptive_spin.hpp — how long a thread that waits for a peer polls before it sleeps. A
// wake-up costs tens of µs here, far more than many polls, but a spin that never pays burns a
// core: a spin that found work doubles the next one (up to the budget), one that found none
// halves it (down to an eighth of the budget). The rounds of an Endpoint and a Client's
// synchronous calls spin through this, each with its own.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>

namespace fastmd::ipc::detail {

class AdaptiveSpin {
 public:
  using Clock = std::chrono::steady_clock;

  /// `budget` 0: never spin.
  explicit AdaptiveSpin(std::chrono::microseconds budget) : budget_(budget), now_(budget.count()) {}

  bool enabled() const { return budget_.count() > 0; }

  /// Calls `ready()` until it is true or this spin's time is up; whether it became true.
  /// Any thread (threads that spin at once share what they learn).
  template <class Ready>
  bool spin(Ready&& ready) {
    if (!enabled()) return false;
    const std::chrono::microseconds now(now_.load(std::memory_order_relaxed));
    const auto until = Clock::now() + now;
    do {
      if (ready()) {
        now_.store(std::min(now * 2, budget_).count(), std::memory_order_relaxed);
        return true;
      }
    } while (Clock::now() < until);
    now_.store(std::max(now / 2, budget_ / 8).count(), std::memory_order_relaxed);
    return false;
  }

 private:
  std::chrono::microseconds budget_;
  std::atomic<std::chrono::microseconds::rep> now_;
};

}  // namespace fastmd::ipc::detail
