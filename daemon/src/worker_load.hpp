// worker_load.hpp — what the daemon knows of a worker's load: its last ipc.load report
// (PROTOCOL.md §3.10), when it came, and when the load last changed (in_flight or served), which
// for a worker with nothing in flight is since when it has been idle. A worker that never
// reported counts as idle since its hello. Kept per worker session (Session::load()); read by
// ipc.status and the pools' scaling.
#pragma once

#include <chrono>
#include <cstdint>

#include "fastmd/proto/control.hpp"

namespace fastmd::daemon {

struct WorkerLoad {
  using Clock = std::chrono::steady_clock;

  proto::Load last;               // {0, 0} until the first report
  std::uint64_t reports = 0;      // ipc.load notifications taken
  Clock::time_point reported_at;  // the last report (the hello before the first)
  Clock::time_point changed_at;   // when in_flight or served last changed (the hello)

  /// Starts the record at the worker's hello: idle, nothing served.
  void start(Clock::time_point now) { reported_at = changed_at = now; }

  /// Takes a report that arrived at `now`.
  void record(const proto::Load& load, Clock::time_point now) {
    if (load.in_flight != last.in_flight || load.served != last.served) changed_at = now;
    last = load;
    reported_at = now;
    ++reports;
  }
};

}  // namespace fastmd::daemon
