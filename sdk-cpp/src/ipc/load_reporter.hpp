// load_reporter.hpp — when a Worker tells the daemon its load (ipc.load, PROTOCOL.md §3.10):
// only when in_flight or served differ from what the daemon was last told, and at most once
// per kLoadReportInterval. A change waits that long before it is sent, so the changes of one
// interval go as one report and the report of a lone call is written after its answer, never
// before it runs. It runs on the worker's I/O-loop timer, so the data path pays nothing but
// the counters it reads: while calls are in flight the loop looks every interval (a call may
// end on another thread without waking it); an idle worker whose last report is current is
// not woken for it at all (a new request wakes the loop anyway).
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

#include "fastmd/proto/control.hpp"

namespace fastmd::ipc::detail {

/// The shortest time between two load reports of one worker, and how long a change waits.
inline constexpr std::chrono::milliseconds kLoadReportInterval{100};

class LoadReporter {
 public:
  using Clock = std::chrono::steady_clock;

  /// A new daemon session began: it assumes {0, 0} until told otherwise.
  void restart() {
    told_ = {};
    changed_since_.reset();
  }

  /// When the I/O loop should look next (Clock::time_point::max(): not until something wakes it).
  Clock::time_point next_check(Clock::time_point now, std::uint32_t in_flight,
                               std::uint64_t served) {
    if (in_flight == told_.in_flight && served == told_.served) {
      changed_since_.reset();
      return in_flight == 0 ? Clock::time_point::max() : poll_at_;
    }
    if (!changed_since_) changed_since_ = now;
    return std::max(*changed_since_, last_attempt_) + kLoadReportInterval;
  }

  /// The report to send now, if one is due; the caller says attempted() after trying.
  std::optional<proto::Load> due(Clock::time_point now, std::uint32_t in_flight,
                                 std::uint64_t served) {
    if (now < next_check(now, in_flight, served)) return std::nullopt;
    if (in_flight == told_.in_flight && served == told_.served) {
      poll_at_ = now + kLoadReportInterval;  // calls in flight, nothing new: look again later
      return std::nullopt;
    }
    proto::Load load;
    load.in_flight = in_flight;
    load.served = served;
    return load;
  }

  /// A report was tried at `now`; one that did not go out (no daemon now, or it does not read)
  /// is tried again an interval later, with the values of then.
  void attempted(const proto::Load& load, Clock::time_point now, bool delivered) {
    last_attempt_ = now;
    if (!delivered) return;
    told_ = load;
    changed_since_.reset();
  }

 private:
  proto::Load told_;                                // what the daemon knows
  std::optional<Clock::time_point> changed_since_;  // when a difference from told_ was first seen
  Clock::time_point last_attempt_{};
  Clock::time_point poll_at_{};
};

}  // namespace fastmd::ipc::detail
