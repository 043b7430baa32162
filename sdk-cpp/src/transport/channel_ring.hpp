// channel_ring.hpp — a direct channel's shared-memory rings (PROTOCOL.md §5.5). Each side
// creates one ring file: its outbound single-producer/single-consumer ring of frames, and its
// consumer state for the peer's ring (how far it read, and whether it may be asleep). Each
// side maps the peer's file read-only, so every word of shared memory has one writer, and
// never reads back what it wrote itself. Whatever the peer writes into its file is read once
// into local memory and checked there: a bad index or record is SHM_BAD_RING on this channel,
// never an out-of-bounds read. The socket stays for fds, for frames too large for the ring,
// for doorbells (a receiver that published that it sleeps is woken by one small frame) and for
// liveness (EOF).
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

namespace ring {
/// The ring layout this implementation speaks (`rings` in ipc.hello and ipc.introduce).
inline constexpr std::uint32_t kLayoutVersion = 1;
/// The file's header, then one cache line per shared word, then the ring's bytes.
inline constexpr std::size_t kMagicOffset = 0;
inline constexpr std::size_t kVersionOffset = 8;
inline constexpr std::size_t kCapacityOffset = 12;
inline constexpr std::size_t kTailOffset = 64;    // bytes published into this side's ring
inline constexpr std::size_t kHeadOffset = 128;   // bytes of the peer's ring consumed
inline constexpr std::size_t kSleepOffset = 192;  // odd: this side may sleep (an episode count)
inline constexpr std::size_t kDataOffset = 256;
inline constexpr char kMagic[8] = {'F', 'M', 'D', 'R', 'I', 'N', 'G', '1'};
/// Records are 8-byte aligned: a frame's 4-byte length prefix and body, padded.
inline constexpr std::size_t kRecordAlign = 8;
/// A length prefix with this value: skip to the ring's start (the next record did not fit
/// before the end).
inline constexpr std::uint32_t kWrapMarker = 0xFFFFFFFF;
}  // namespace ring

class ChannelRing {
 public:
  /// Creates this side's ring file, with a ring of `capacity` bytes (a power of two within
  /// the bounds), sealed against resizing where the platform can seal.
  static proto::Result<ChannelRing> create(std::uint32_t capacity);
  /// INVALID_FIELD naming the bounds unless `capacity` is a ring's size.
  static proto::Status check_capacity(std::uint32_t capacity);

  // Moved only before use (create(), then FramedSocket::offer_ring), never while shared.
  ChannelRing(ChannelRing&&) noexcept = default;
  ChannelRing& operator=(ChannelRing&&) = delete;

  /// This side's ring file, for the peer (sent once, with ipc.ring).
  int file() const { return own_fd_.get(); }

  /// Checks and maps the peer's ring file (from its ipc.ring): a memory fd of a ring file's
  /// size (SHM_BAD_FD), whose header names this layout and a capacity within the bounds
  /// (SHM_BAD_RING). Frames bigger than `max_frame` in it are FRAME_TOO_LARGE.
  proto::Status attach_peer(platform::UniqueFd fd, std::uint32_t max_frame);
  bool attached() const { return peer_map_.valid(); }

  // The producer side (the owner's write lock held).

  /// Copies one frame (its length prefix and body, in `parts`) into the ring as one record
  /// and publishes it. false, writing nothing, when the ring has no room for it now or the
  /// frame is larger than a quarter of the ring (it then goes on the socket). SHM_BAD_RING
  /// when the peer's published consumer index is impossible.
  proto::Result<bool> write(std::span<const iovec> parts, std::size_t bytes);

  /// Like write(), for frames already encoded back to back: writes as many whole frames as
  /// fit, publishes them once, and returns how many bytes of `frames` it took.
  proto::Result<std::size_t> write_encoded(std::span<const std::byte> frames);

  /// After a write: true when the peer published that it may be asleep in an episode not
  /// rung yet, so a doorbell must wake it (once per episode).
  bool doorbell_due();

  // The consumer side (the owner's read lock held).

  /// Takes what the peer has published so far as what next_frame() may read (frames
  /// published later wait for the next take, so one busy peer cannot keep a reader in one
  /// round forever). SHM_BAD_RING when the peer's published index is impossible.
  proto::Status take_published();

  /// The next frame taken, copied into `out` (length prefix and body) and consumed;
  /// an empty span when none is left. SHM_BAD_RING, FRAME_EMPTY or FRAME_TOO_LARGE for a
  /// record that is not a frame within the ring; SHM_BAD_FD when the peer's file shrank.
  proto::Result<std::span<const std::byte>> next_frame(std::vector<std::byte>& out);

  /// True when the peer has published frames not consumed yet (any thread, once attached;
  /// cheap: a read of one shared word).
  bool readable() const;

  // The sleep protocol (whoever waits for the channel: one thread at a time). It works from
  // the offer on: a peer that has this side's file reads its episodes even before this side
  // has the peer's.

  /// Publishes that this side may sleep (a new episode), then fences, so that a look at
  /// readable() after it sees every frame published before the peer read the episode.
  void sleep();
  /// Publishes that this side is awake and reading (no doorbell needed).
  void wake();

 private:
  ChannelRing(platform::UniqueFd fd, platform::Mapping map, std::uint32_t capacity)
      : own_fd_(std::move(fd)), own_map_(std::move(map)), capacity_(capacity) {}

  std::uint64_t free_bytes();  // producer: what the ring can take now, as last known
  // Whether the record of a frame of `bytes` fits now, wrapping included; reads the peer's
  // consumer index only when the last one known says it does not.
  proto::Result<bool> has_room(std::size_t bytes);
  // Writes the record for a frame of `bytes` at the tail (space checked), wrapping first
  // when it does not fit before the end.
  void put_record(std::size_t bytes, std::span<const iovec> parts);
  void publish_tail();
  void publish_head(std::uint64_t head);  // consumer: frees what was read
  proto::Error corrupt(const std::string& what) const;

  platform::UniqueFd own_fd_;
  platform::Mapping own_map_;   // read-write: this side's file
  platform::Mapping peer_map_;  // read-only: the peer's file
  std::uint32_t capacity_ = 0;
  std::uint32_t peer_capacity_ = 0;
  std::uint32_t max_frame_ = 0;
  // Producer: the tail written (published or not yet), the peer's head last read, the
  // sleep episode last rung.
  std::uint64_t tail_ = 0;
  std::uint64_t peer_head_ = 0;
  std::uint64_t rung_ = 0;
  // Consumer: the head consumed, and the peer's tail as taken; the head again, for
  // readable() on any thread.
  std::uint64_t head_ = 0;
  std::uint64_t taken_ = 0;
  // An atomic that moves by value: the ring moves only before any other thread sees it.
  struct ConsumedCount {
    std::atomic<std::uint64_t> value{0};
    ConsumedCount() = default;
    ConsumedCount(ConsumedCount&& other) noexcept
        : value(other.value.load(std::memory_order_relaxed)) {}
  };
  ConsumedCount consumed_;
};

}  // namespace fastmd::ipc::detail
