// fastmd/shm/segment_writer.hpp — the owner's side of a segment: allocates cache-line
// aligned blocks in the session's own segment, hands out their handles when sealed, and
// reclaims blocks readers released, lazily and out of order.
//
// The allocator's bookkeeping is owner-local (process memory, behind a process-local
// mutex); shared memory holds only the block headers. Placement is next-fit over a ring
// with wrap-around: a new block goes in the first gap at or after the end of the previous
// one that is large enough, skipping blocks still held, wrapping to the start once. When no
// gap fits, released blocks are reclaimed, the owner is asked to take back the blocks of readers
// that are gone (set_when_full()), and the writer retries until its wait runs out.
//
// The writer also records whom each sealed block was lent to (lend()), so that the blocks of
// a reader whose process is gone can be taken back at once (take_back()) instead of staying
// held for good: a dead reader never flips their state words (PROTOCOL.md §4.4).
//
//     auto writer = fastmd::shm::SegmentWriter::open(std::move(fd), info).value();
//     auto block = writer->allocate(html.size(), std::chrono::milliseconds(50)).value();
//     std::memcpy(block.data().data(), html.data(), html.size());
//     fastmd::proto::ShmHandle handle = block.seal(html.size());   // send it in a frame
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::shm {

class SegmentWriter;

/// A block being written: fill data(), then seal() it to get its handle. A WriteBlock that
/// is destroyed unsealed gives its space back. Move-only; must not outlive its writer. One
/// thread at a time may use a given WriteBlock; different blocks may be used concurrently.
class WriteBlock {
 public:
  WriteBlock() = default;
  WriteBlock(WriteBlock&& other) noexcept;
  WriteBlock& operator=(WriteBlock&& other) noexcept;
  WriteBlock(const WriteBlock&) = delete;
  WriteBlock& operator=(const WriteBlock&) = delete;
  ~WriteBlock();

  /// The writable payload: as many bytes as were asked for (or grown to).
  std::span<std::byte> data() const;
  std::size_t capacity() const { return capacity_; }
  bool valid() const { return writer_ != nullptr; }

  /// Makes room for `new_capacity` bytes, keeping the first `keep` bytes written so far:
  /// in place when the space after the block is free, else by moving to a new block (the
  /// kept bytes are copied once). Waits up to `wait` for space; SHM_NO_SPACE after, and
  /// PAYLOAD_TOO_LARGE when the segment could never hold it (go one-off then). data()
  /// changes on success; on failure the block is unchanged.
  proto::Status grow(std::size_t new_capacity, std::size_t keep, std::chrono::milliseconds wait);

  /// Publishes the first `used_length` bytes (<= capacity()) to readers and returns the
  /// handle naming them; the unused tail goes back to the writer at once (write-then-shrink).
  /// The block becomes the reader's to release; this WriteBlock becomes empty.
  proto::ShmHandle seal(std::size_t used_length);

 private:
  friend class SegmentWriter;
  WriteBlock(SegmentWriter* writer, std::uint64_t offset, std::size_t capacity)
      : writer_(writer), offset_(offset), capacity_(capacity) {}
  void abandon();

  SegmentWriter* writer_ = nullptr;
  std::uint64_t offset_ = 0;  // of the payload
  std::size_t capacity_ = 0;
};

/// Allocation counters, for stats and tests.
struct WriterStats {
  std::uint64_t allocations = 0;
  std::uint64_t reclaimed = 0;    // blocks given back after a reader released them
  std::uint64_t waits = 0;        // allocations that had to wait for space
  std::uint64_t no_space = 0;     // allocations that failed with SHM_NO_SPACE
  std::uint64_t taken_back = 0;   // blocks taken back from a holder that is gone
  std::uint64_t blocks_held = 0;  // blocks allocated and not yet reclaimed
  std::uint64_t bytes_held = 0;   // their bytes, headers included
};

/// Whom sealed blocks were lent to: an opaque id the owner picks, one per reader it sends
/// handles to (e.g. per direct channel). 0 names nobody.
using HolderId = std::uint64_t;

class SegmentWriter {
 public:
  /// Maps the session's own segment (the fd from the `ipc.hello` reply, described by `info`),
  /// after checking the fd (SHM_BAD_FD). Pages are pre-faulted once here, so writes never
  /// fault later. Any block headers left from an earlier owner are ignored. The writer is
  /// pinned in memory (WriteBlocks point to it), hence the unique_ptr.
  static proto::Result<std::unique_ptr<SegmentWriter>> open(platform::UniqueFd fd,
                                                            const proto::SegmentInfo& info);

  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;
  ~SegmentWriter();

  /// A block of `length` payload bytes, waiting up to `wait` for readers to release enough
  /// space. SHM_NO_SPACE when the wait runs out; PAYLOAD_TOO_LARGE when `length` exceeds
  /// max_block() (such payloads go by one-off memfd, see fastmd/shm/oneoff.hpp); SHM_BAD_FD
  /// once a peer truncated the segment (where nothing seals it) and an access faulted.
  proto::Result<WriteBlock> allocate(std::size_t length, std::chrono::milliseconds wait);

  /// Gives back a sealed block whose handle was never delivered (the send failed).
  void discard(const proto::ShmHandle& handle);

  /// Records that the sealed block `handle` names is lent to `holder`. Call it after sealing
  /// and before the handle is sent (until then no reader can have released the block). A
  /// handle this writer did not seal, or a block already given back, is ignored.
  ///
  ///     proto::ShmHandle handle = block.seal(n);
  ///     writer->lend(handle, channel_holder);   // then send the handle on that channel
  void lend(const proto::ShmHandle& handle, HolderId holder);

  /// How many blocks lent to `holder` its reader has not released yet.
  std::size_t lent_to(HolderId holder) const;

  /// Takes back every block lent to `holder`, released or not, and returns how many. Only for
  /// a holder whose process is gone (a pidfd said so): a live reader may still view a block
  /// in place after its channel closed, so a live holder's blocks come back only through
  /// their state words.
  std::size_t take_back(HolderId holder);

  /// What the owner does when an allocation finds no room: take back (take_back()) the blocks
  /// of holders whose process is gone. A reader's process may end a moment after its channel
  /// did, so an allocation that waits asks again after each pause, and the blocks come back
  /// to the allocation that needs them rather than at the owner's next timer. Called without
  /// the writer's lock, on the allocating thread.
  using WhenFull = std::function<void()>;

  /// Sets the hook above; once, before the writer is shared with other threads.
  void set_when_full(WhenFull hook) { when_full_ = std::move(hook); }

  /// The largest payload one block can hold (the segment minus its header and one block
  /// header).
  std::size_t max_block() const;

  const proto::SegmentInfo& info() const { return info_; }
  /// The segment's fd, for tests and for passing on (the writer keeps owning it).
  int fd() const { return fd_.get(); }
  WriterStats stats() const;

 private:
  friend class WriteBlock;
  struct Placed {
    std::uint64_t span;   // header + reserved payload bytes (multiple of 64)
    bool sealed;          // false while a WriteBlock still writes it
    HolderId holder = 0;  // whom the sealed block was lent to (lend()), 0: not said
  };

  SegmentWriter(platform::UniqueFd fd, platform::Mapping mapping, const proto::SegmentInfo& info);

  std::byte* header_at(std::uint64_t header_offset) const;
  // All below run with mutex_ held.
  void reclaim_released();
  std::optional<std::uint64_t> find_gap(std::uint64_t span) const;
  std::uint64_t place(std::uint64_t header_offset, std::uint64_t span);
  bool try_extend(std::uint64_t header_offset, std::uint64_t new_span);
  void forget(std::uint64_t header_offset);
  proto::Result<std::uint64_t> reserve(std::uint64_t capacity, std::chrono::milliseconds wait,
                                       std::unique_lock<std::mutex>& lock);

  // Called by WriteBlock.
  proto::ShmHandle seal_block(std::uint64_t payload_offset, std::size_t used_length);
  void abandon_block(std::uint64_t payload_offset);
  proto::Result<std::uint64_t> grow_block(std::uint64_t payload_offset, std::size_t new_capacity,
                                          std::size_t keep, std::chrono::milliseconds wait);

  platform::UniqueFd fd_;
  platform::Mapping mapping_;
  proto::SegmentInfo info_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, Placed> placed_;  // by header offset: every block not reclaimed
  std::uint64_t cursor_ = 0;                // where the next search starts (ring order)
  WriterStats stats_;
  WhenFull when_full_;
};

}  // namespace fastmd::shm
