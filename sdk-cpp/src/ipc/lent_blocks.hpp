// lent_blocks.hpp — an owner's record of whom the blocks of its segment are lent to, one
// holder per direct channel, with an exit watcher (platform/exit_watcher.hpp: a pidfd on Linux) of
// the channel's peer opened at introduction. When a channel ends, the blocks its peer still holds
// come back at once if the peer's process is gone. A peer that still lives may keep viewing blocks
// in place after a channel closed (the Node SDK keeps result Buffers over them; a client closes
// old-generation channels while it runs, PROTOCOL.md §3.8), so its blocks come back through their
// state words as usual, or all at once when its process exits later (checked on the owner's timer,
// and whenever the segment is full: the peer's process often ends a moment after its channel).
// Without a watcher (an older kernel, portable POSIX) nothing is taken back: the state words alone
// decide, as before. The channels of one live process share one watcher, so watching an ended
// channel whose peer lives on costs no fd beyond the one its other channels already hold.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/shm/segment_writer.hpp"
#include "payload.hpp"

namespace fastmd::ipc::detail {

class DirectChannel;

class LentBlocks {
 public:
  using Clock = std::chrono::steady_clock;

  /// How often blocks of ended channels whose peers still live are looked at again.
  static constexpr std::chrono::milliseconds kCheckEvery{50};

  /// Told how many blocks came back from a peer whose process is gone (named as in opened()):
  /// the worker logs it; a client, a library, says nothing.
  using TakenBack = std::function<void(std::size_t blocks, const std::string& peer)>;

  LentBlocks() = default;
  explicit LentBlocks(TakenBack on_taken_back) : on_taken_back_(std::move(on_taken_back)) {}

  /// `channel` was introduced: its peer is `peer` (name, pid as the daemon saw it), and its
  /// answers are placed in `segment` (may be nullptr).
  void opened(const DirectChannel* channel, const proto::Introduce& peer,
              const std::shared_ptr<OwnSegment>& segment);

  /// Records that the block `handle` names, placed in `segment`, is lent to `channel`'s peer.
  /// Called before the handle is sent. When the channel has already ended (its socket is shut
  /// down, so no frame can reach the peer any more) the block is given back at once and this
  /// returns false: the answer is not to be sent.
  bool lend(const DirectChannel* channel, OwnSegment& segment, const proto::ShmHandle& handle);

  /// `channel` ended: takes back what its peer holds if its process is gone, else waits.
  void closed(const DirectChannel* channel);

  /// When check() is next due; Clock::time_point::max() when no ended channel waits.
  Clock::time_point next_check() const;

  /// Takes back the blocks of ended channels whose peers have exited since, when due.
  void check(Clock::time_point now);

  /// The same at once: the segment's hook when it is full (SegmentWriter::set_when_full).
  void take_back_from_exited();

 private:
  using ExitWatcher = std::shared_ptr<const platform::UniqueFd>;

  struct Holder {
    shm::HolderId id = 0;
    ExitWatcher exit_watcher;  // nullptr: the peer's exit cannot be told, nothing is taken back
    std::weak_ptr<OwnSegment> segment;
    std::string peer;  // for the log: name and pid
  };

  // True when `holder` needs no more watching (its blocks came back, or cannot be told).
  bool settle_locked(Holder& holder);
  void settle_ended_locked(Clock::time_point now);
  // The exit watcher of the live process `pid`, shared with its other channels; nullptr when none
  // can be had.
  ExitWatcher exit_watcher_of_locked(std::uint32_t pid);

  TakenBack on_taken_back_;
  mutable std::mutex mutex_;
  shm::HolderId next_id_ = 1;
  std::unordered_map<const DirectChannel*, Holder> open_;
  std::unordered_map<std::uint32_t, std::weak_ptr<const platform::UniqueFd>>
      exit_watchers_;          // by pid
  std::vector<Holder> ended_;  // channels closed while their peers held blocks and lived
  Clock::time_point next_check_ = Clock::time_point::max();
};

}  // namespace fastmd::ipc::detail
