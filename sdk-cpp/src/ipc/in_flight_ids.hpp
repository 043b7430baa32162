// in_flight_ids.hpp — the ids of the requests a worker read from one channel and has not yet
// answered, so that a request repeating one of them is refused (its answers could not be told
// apart). An open-addressing hash set of the ids themselves: no allocation per request (only
// when it grows, to twice the most ids that were in flight at once), and no search that
// grows with the ids in flight. The arrival-ordered list it replaces searched whenever
// requests came out of order, which they do when a client's ring overflows onto its socket:
// in a pipelined 64 B call_many, std::find over that list was 12% of the worker's CPU (perf).
// The hash is seeded per process, so where a client's ids land depends on a value it does
// not know; were they all to collide anyway, a lookup scans at most the ids in flight (at most
// kMaxUnansweredPerChannel on a channel), the list's own worst case.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace fastmd::ipc::detail {

class InFlightIds {
 public:
  /// Adds `id`; false (nothing added) when it is already in flight.
  bool add(std::uint64_t id) {
    if (id == kEmpty) {
      if (holds_empty_key_) return false;
      holds_empty_key_ = true;
      return true;
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    std::size_t at = home(id);
    for (; slots_[at] != kEmpty; at = next(at)) {
      if (slots_[at] == id) return false;
    }
    slots_[at] = id;
    ++size_;
    return true;
  }

  /// Forgets `id` (answered, or refused just after it was added); an id not in flight is
  /// ignored.
  void remove(std::uint64_t id) {
    if (id == kEmpty) {
      holds_empty_key_ = false;
      return;
    }
    if (size_ == 0) return;
    std::size_t at = home(id);
    for (; slots_[at] != id; at = next(at)) {
      if (slots_[at] == kEmpty) return;
    }
    // Backward-shift deletion: the ids after it in its run move up where their probe allows,
    // so that a lookup never stops at a hole before its id.
    for (std::size_t later = next(at);; later = next(later)) {
      const std::uint64_t moved = slots_[later];
      if (moved == kEmpty) break;
      // `moved` may fill the hole only if its home is not cyclically in (at, later].
      const std::size_t from_home = (later - home(moved)) & mask();
      if (from_home >= ((later - at) & mask())) {
        slots_[at] = moved;
        at = later;
      }
    }
    slots_[at] = kEmpty;
    --size_;
  }

 private:
  static constexpr std::uint64_t kEmpty = 0;  // id 0 is kept aside, in holds_empty_key_
  static constexpr std::size_t kFirstSlots = 16;

  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t next(std::size_t at) const { return (at + 1) & mask(); }
  // Fibonacci hashing of the seeded id: consecutive ids land far apart.
  std::size_t home(std::uint64_t id) const {
    const std::uint64_t mixed = (id ^ seed()) * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(mixed >> (64 - std::countr_zero(slots_.size())));
  }
  static std::uint64_t seed() {
    static const std::uint64_t value = [] {
      std::random_device source;
      return (std::uint64_t{source()} << 32) | source();
    }();
    return value;
  }
  void grow() {
    std::vector<std::uint64_t> old(slots_.empty() ? kFirstSlots : 2 * slots_.size(), kEmpty);
    old.swap(slots_);
    for (const std::uint64_t id : old) {
      if (id == kEmpty) continue;
      std::size_t at = home(id);
      while (slots_[at] != kEmpty) at = next(at);
      slots_[at] = id;
    }
  }

  std::vector<std::uint64_t> slots_;  // a power of two of them, at most half in use
  std::size_t size_ = 0;              // ids in slots_
  bool holds_empty_key_ = false;      // whether id 0 is in flight
};

}  // namespace fastmd::ipc::detail
