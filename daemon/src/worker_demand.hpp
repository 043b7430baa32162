// worker_demand.hpp — what the broker asks of whoever can start workers (the pool supervisor):
// which methods configured pools serve, and "a client waits for this method, start a worker
// for it". The broker depends on this interface only, so brokering does not know how workers
// are spawned, and a daemon without pools passes none.
#pragma once

#include <string>
#include <vector>

namespace fastmd::daemon {

class WorkerDemand {
 public:
  virtual ~WorkerDemand() = default;

  /// Method names that configured pools serve (declared in the config or learned from a pool
  /// worker's hello), whether or not a worker of that pool runs now. Sorted, no duplicates.
  virtual std::vector<std::string> pool_methods() const = 0;

  /// Whether some pool's methods are not known yet: it declares none and its first worker,
  /// started to tell them in its hello, has not done so. Until then a method no live worker
  /// and no known pool serves may still be served, so the broker waits instead of answering
  /// METHOD_NOT_FOUND.
  virtual bool learning_methods() const = 0;

  /// A client waits for `method` and no live worker serves it: starts a worker of a pool that
  /// serves it unless one is already starting. Returns whether some pool serves `method` (and
  /// can start a worker now: false for a pool that is crash-looping or at its maximum).
  virtual bool request_worker(const std::string& method) = 0;
};

}  // namespace fastmd::daemon
