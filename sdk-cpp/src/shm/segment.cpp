// Segment layout helpers (see fastmd/shm/segment.hpp).
#include "fastmd/shm/segment.hpp"

#include <cstddef>
#include <cstring>
#include <string>

#include "fastmd/platform/memfd.hpp"
#include "fastmd/proto/limits.hpp"

namespace fastmd::shm {

namespace {

std::uint64_t load(const std::byte* header, std::size_t field_offset, std::memory_order order) {
  // atomic_ref needs a mutable object, but a load never writes.
  return header_word(const_cast<std::byte*>(header), field_offset).load(order);
}

}  // namespace

BlockHeaderCopy copy_block_header(const std::byte* header) {
  BlockHeaderCopy copy;
  copy.state = load(header, offsetof(BlockHeader, state), std::memory_order_acquire);
  copy.magic = load(header, offsetof(BlockHeader, magic), std::memory_order_relaxed);
  copy.offset = load(header, offsetof(BlockHeader, offset), std::memory_order_relaxed);
  copy.length = load(header, offsetof(BlockHeader, length), std::memory_order_relaxed);
  copy.capacity = load(header, offsetof(BlockHeader, capacity), std::memory_order_relaxed);
  return copy;
}

void write_segment_header(std::byte* segment_base, std::uint32_t segment, std::uint32_t generation,
                          std::uint64_t size) {
  SegmentHeader header{};
  header.magic = kSegmentMagic;
  header.layout_version = kLayoutVersion;
  header.segment = segment;
  header.generation = generation;
  header.size = size;
  std::memcpy(segment_base, &header, sizeof header);
}

proto::Result<platform::Mapping> map_segment(int fd, const proto::SegmentInfo& info) {
  if (info.segment == proto::kAttachedMemfdSegment) {
    return proto::Error{proto::Errc::shm_unknown_segment,
                        "segment 0 is reserved for one-off payloads and names no pool segment"};
  }
  if (info.size < kMinSegmentSize || info.size % kCacheLine != 0 ||
      info.size > std::uint64_t{SIZE_MAX}) {
    return proto::Error{proto::Errc::shm_bad_fd, "segment " + std::to_string(info.segment) +
                                                     " has an invalid size of " +
                                                     std::to_string(info.size) + " bytes"};
  }
  // A memfd segment must be sealed against shrink and grow; a named /dev/shm object (the
  // portable backing) cannot carry seals and is accepted as it is.
  auto checked = platform::check_shared_memory_fd(fd, platform::kSegmentSeals, info.size);
  if (!checked) return checked.error();
  return platform::Mapping::map(fd, static_cast<std::size_t>(info.size), true, 0,
                                platform::Mapping::Populate::prefault);
}

}  // namespace fastmd::shm
