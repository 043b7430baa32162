// in_flight_ids.hpp — the ids of the requests a worker read from one channel and has not yet
// answered, so that a request repeating one of them is refused (its answers could not be told
// apart). Clients number their requests upwards and a worker mostly answers them in order, so
// the ids are kept in arrival order: an id above every earlier one is added without a search,
// and an answered one is usually the oldest (or, for a lone call, the newest), taken from its
// end without a search (the search and the erase in the middle cost about 2% of a pipelined
// 64 B call's worker CPU in a perf profile). A client that numbers otherwise makes each of
// its requests search its own ids (at most kMaxUnansweredPerChannel of them: about a
// microsecond at most, under the worker's mutex). No allocation per request but one block per 64
// ids: a hash set cost a node for each (about 5% of a pipelined 64 B call in a probe).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>

namespace fastmd::ipc::detail {

class InFlightIds {
 public:
  /// Adds `id`; false (nothing added) when it is already in flight.
  bool add(std::uint64_t id) {
    const bool above_all = ids_.empty() || id > highest_;
    if (!above_all && std::find(ids_.begin(), ids_.end(), id) != ids_.end()) return false;
    highest_ = ids_.empty() ? id : std::max(highest_, id);
    ids_.push_back(id);
    return true;
  }

  /// Forgets `id` (answered, or refused just after it was added); an id not in flight is
  /// ignored.
  void remove(std::uint64_t id) {
    if (ids_.empty()) return;
    if (ids_.front() == id) return ids_.pop_front();
    if (ids_.back() == id) return ids_.pop_back();
    const auto it = std::find(ids_.begin(), ids_.end(), id);
    if (it != ids_.end()) ids_.erase(it);
  }

 private:
  std::deque<std::uint64_t> ids_;  // in the order they arrived
  std::uint64_t highest_ = 0;      // no id in ids_ is higher (while it is not empty)
};

}  // namespace fastmd::ipc::detail
