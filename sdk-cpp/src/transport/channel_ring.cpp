// A direct channel's rings (see channel_ring.hpp; the layout and ordering rules are
// PROTOCOL.md §5.5).
#include "channel_ring.hpp"

#include <atomic>
#include <bit>
#include <cstring>
#include <string>

#include "fastmd/platform/memfd.hpp"
#include "fastmd/proto/codec.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

namespace {

std::atomic_ref<std::uint64_t> word(const platform::Mapping& map, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(map.data() + offset));
}

constexpr std::size_t record_bytes(std::size_t frame_bytes) {
  return (frame_bytes + ring::kRecordAlign - 1) & ~(ring::kRecordAlign - 1);
}

}  // namespace

proto::Status ChannelRing::check_capacity(std::uint32_t capacity) {
  if (std::has_single_bit(capacity) && capacity >= proto::kMinRingBytes &&
      capacity <= proto::kMaxRingBytes) {
    return {};
  }
  return Error{Errc::invalid_field, "a ring's size must be a power of two from " +
                                        std::to_string(proto::kMinRingBytes) + " to " +
                                        std::to_string(proto::kMaxRingBytes) + " bytes, not " +
                                        std::to_string(capacity)};
}

proto::Result<ChannelRing> ChannelRing::create(std::uint32_t capacity) {
  if (auto checked = check_capacity(capacity); !checked) return checked.error();
  const std::size_t size = ring::kDataOffset + capacity;
  auto fd = platform::create_memfd("fastmd-ring", size);
  if (!fd) return fd.error();
  auto map = platform::Mapping::map(fd->get(), size, /*writable=*/true, 0,
                                    platform::Mapping::Populate::prefault);
  if (!map) return map.error();
  std::memcpy(map->data() + ring::kMagicOffset, ring::kMagic, sizeof ring::kMagic);
  proto::store_u32_le(map->data() + ring::kVersionOffset, ring::kLayoutVersion);
  proto::store_u32_le(map->data() + ring::kCapacityOffset, capacity);
  // The peer maps it for as long as it likes: it must never shrink under that mapping.
  if (auto sealed = platform::seal_where_supported(fd->get(), platform::kSegmentSeals); !sealed) {
    return sealed.error();
  }
  return ChannelRing(std::move(*fd), std::move(*map), capacity);
}

proto::Status ChannelRing::attach_peer(platform::UniqueFd fd, std::uint32_t max_frame) {
  if (attached()) return Error{Errc::unexpected_message, "the peer sent a second ipc.ring"};
  // Sealed, or a posix-layer peer's /dev/shm object (which cannot be): reads of it are
  // SIGBUS-guarded, and a record read from a mapping that broke is dropped.
  auto info = platform::check_shared_memory_fd(fd.get(), platform::kSegmentSeals,
                                               ring::kDataOffset + proto::kMinRingBytes);
  if (!info) return info.error();
  if (info->size > ring::kDataOffset + proto::kMaxRingBytes) {
    return Error{Errc::shm_bad_fd,
                 "a ring file of " + std::to_string(info->size) + " bytes is larger than any ring"};
  }
  auto map = platform::Mapping::map(fd.get(), static_cast<std::size_t>(info->size),
                                    /*writable=*/false);
  if (!map) return map.error();
  // The header is read once, here; later changes to it are never looked at.
  char magic[8];
  std::memcpy(magic, map->data() + ring::kMagicOffset, sizeof magic);
  const std::uint32_t version = proto::load_u32_le(map->data() + ring::kVersionOffset);
  const std::uint32_t capacity = proto::load_u32_le(map->data() + ring::kCapacityOffset);
  if (map->broken()) return Error{Errc::shm_bad_fd, "the peer's ring file shrank"};
  if (std::memcmp(magic, ring::kMagic, sizeof magic) != 0 || version != ring::kLayoutVersion) {
    return corrupt("its header is not a ring file of layout " +
                   std::to_string(ring::kLayoutVersion));
  }
  if (!std::has_single_bit(capacity) || capacity < proto::kMinRingBytes ||
      ring::kDataOffset + std::uint64_t{capacity} != info->size) {
    return corrupt("its header's capacity " + std::to_string(capacity) +
                   " does not match a file of " + std::to_string(info->size) + " bytes");
  }
  peer_map_ = std::move(*map);
  peer_capacity_ = capacity;
  max_frame_ = max_frame;
  return {};
}

Error ChannelRing::corrupt(const std::string& what) const {
  return Error{Errc::shm_bad_ring, "the peer's ring is corrupt: " + what};
}

std::uint64_t ChannelRing::free_bytes() {
  return capacity_ - (tail_ - peer_head_);
}

proto::Result<bool> ChannelRing::has_room(std::size_t bytes) {
  const std::size_t need = record_bytes(bytes);
  if (need > capacity_ / 4) return false;
  const std::size_t to_end = capacity_ - (tail_ & (capacity_ - 1));
  const std::size_t with_wrap = need > to_end ? to_end + need : need;
  if (free_bytes() >= with_wrap) return true;
  // Only now is the peer's head worth a look (a shared cache line the peer writes).
  const std::uint64_t head = word(peer_map_, ring::kHeadOffset).load(std::memory_order_acquire);
  if (tail_ - head > capacity_) {
    return corrupt("its consumer index " + std::to_string(head) + " is not within " +
                   std::to_string(capacity_) + " bytes behind " + std::to_string(tail_));
  }
  peer_head_ = head;
  return free_bytes() >= with_wrap;
}

proto::Result<bool> ChannelRing::write(std::span<const iovec> parts, std::size_t bytes) {
  auto room = has_room(bytes);
  if (!room || !*room) return room;
  put_record(bytes, parts);
  publish_tail();
  return true;
}

proto::Result<std::size_t> ChannelRing::write_encoded(std::span<const std::byte> frames) {
  std::size_t taken = 0;
  proto::Status failed;
  while (frames.size() - taken >= proto::kFrameHeaderBytes) {
    const std::size_t bytes = proto::kFrameHeaderBytes + proto::load_u32_le(frames.data() + taken);
    auto room = has_room(bytes);
    if (!room) failed = room.error();
    if (!room || !*room) break;
    const iovec part{const_cast<std::byte*>(frames.data() + taken), bytes};
    put_record(bytes, {&part, 1});
    taken += bytes;
  }
  if (taken > 0) publish_tail();  // what was written is the peer's, even before an error
  if (!failed) return failed.error();
  return taken;
}

void ChannelRing::put_record(std::size_t bytes, std::span<const iovec> parts) {
  std::size_t at = tail_ & (capacity_ - 1);
  const std::size_t need = record_bytes(bytes);
  std::byte* data = own_map_.data() + ring::kDataOffset;
  if (need > capacity_ - at) {
    std::memcpy(data + at, &ring::kWrapMarker, 4);
    tail_ += capacity_ - at;
    at = 0;
  }
  for (const iovec& part : parts) {
    std::memcpy(data + at, part.iov_base, part.iov_len);
    at += part.iov_len;
  }
  tail_ += need;
}

void ChannelRing::publish_tail() {
  word(own_map_, ring::kTailOffset).store(tail_, std::memory_order_release);
}

bool ChannelRing::doorbell_due() {
  // Dekker with sleep(): this side published its tail, the peer its episode; the fences make
  // at least one of the two see the other's store (the peer reads on, or this side rings).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint64_t episode = word(peer_map_, ring::kSleepOffset).load(std::memory_order_relaxed);
  if ((episode & 1) == 0 || episode == rung_) return false;
  rung_ = episode;
  return true;
}

proto::Status ChannelRing::take_published() {
  const std::uint64_t tail = word(peer_map_, ring::kTailOffset).load(std::memory_order_acquire);
  if (tail - head_ > peer_capacity_) {
    return corrupt("its producer index " + std::to_string(tail) + " is not within " +
                   std::to_string(peer_capacity_) + " bytes ahead of " + std::to_string(head_));
  }
  taken_ = tail;
  return {};
}

proto::Result<std::span<const std::byte>> ChannelRing::next_frame(std::vector<std::byte>& out) {
  const std::byte* data = peer_map_.data() + ring::kDataOffset;
  for (;;) {
    if (head_ == taken_) return std::span<const std::byte>{};
    const std::size_t at = head_ & (peer_capacity_ - 1);
    const std::uint64_t left = taken_ - head_;
    const std::size_t to_end = peer_capacity_ - at;
    if (at % ring::kRecordAlign != 0 || left < ring::kRecordAlign) {
      return corrupt(std::to_string(left) + " bytes published at " + std::to_string(head_) +
                     " are not a whole record");
    }
    const std::uint32_t length = proto::load_u32_le(data + at);
    if (length == ring::kWrapMarker) {
      if (left < to_end) return corrupt("a wrap marker past what was published");
      publish_head(head_ + to_end);
      continue;
    }
    auto checked = proto::check_frame_length(length, max_frame_);
    if (!checked) return checked.error();
    const std::size_t bytes = proto::kFrameHeaderBytes + std::size_t{length};
    const std::size_t need = record_bytes(bytes);
    if (need > to_end || need > left) {
      return corrupt("a record of " + std::to_string(need) + " bytes at " + std::to_string(head_) +
                     " runs past " + (need > to_end ? "the ring's end" : "what was published"));
    }
    // Read once: the frame is decoded from this copy, never from the peer's memory.
    out.resize(bytes);
    std::memcpy(out.data(), data + at, bytes);
    if (peer_map_.broken()) return Error{Errc::shm_bad_fd, "the peer's ring file shrank"};
    publish_head(head_ + need);
    return std::span<const std::byte>(out);
  }
}

void ChannelRing::publish_head(std::uint64_t head) {
  head_ = head;
  word(own_map_, ring::kHeadOffset).store(head, std::memory_order_release);
  consumed_.value.store(head, std::memory_order_release);
}

bool ChannelRing::readable() const {
  // The consumed count is this process's own copy: the peer holds a writable fd of this
  // side's file, and a head it scribbled there must not make a reader spin.
  return word(peer_map_, ring::kTailOffset).load(std::memory_order_acquire) !=
         consumed_.value.load(std::memory_order_acquire);
}

void ChannelRing::sleep() {
  auto episode = word(own_map_, ring::kSleepOffset);
  // A new odd value each time, so the peer rings once for this episode even if an earlier
  // sleeper of this side (another thread) was rung already.
  episode.store((episode.load(std::memory_order_relaxed) + 1) | 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void ChannelRing::wake() {
  auto episode = word(own_map_, ring::kSleepOffset);
  const std::uint64_t now = episode.load(std::memory_order_relaxed);
  if (now & 1) episode.store(now + 1, std::memory_order_relaxed);
}

}  // namespace fastmd::ipc::detail
