// fastmd/shm/segment.hpp — the memory layout of a pool segment, shared by the daemon (which
// creates and recycles segments), the owner (the one session that allocates in it) and its
// readers (peers introduced to the owner). See docs/architecture.md, "Memory layout".
//
//   offset 0                    64                                               size
//   +---------------------------+------------------------------------------------+
//   | SegmentHeader (daemon)     | blocks: [BlockHeader | payload ... ] [gap] ... |
//   +---------------------------+------------------------------------------------+
//
// Every block starts on a cache line: a 64-byte BlockHeader, then its payload, padded to a
// multiple of 64. A handle's `offset` names the payload, so its header is at offset - 64.
// Only the block's state word changes after sealing; it is the one word two processes
// write (owner: free/writing/sealed; reader: sealed -> released), always atomically.
// No locks live in shared memory, and a reader copies a header out before judging it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "fastmd/platform/mapping.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::shm {

inline constexpr std::size_t kCacheLine = 64;

/// Rounds `n` up to a multiple of the cache line (n must be < 2^64 - 63).
constexpr std::uint64_t round_to_cache_line(std::uint64_t n) {
  return (n + kCacheLine - 1) & ~std::uint64_t{kCacheLine - 1};
}

/// "FMDSEG01", little endian.
inline constexpr std::uint64_t kSegmentMagic = 0x313047455344'4d46ULL;
/// "FMDBLK01", little endian.
inline constexpr std::uint64_t kBlockMagic = 0x31304b4c4244'4d46ULL;
inline constexpr std::uint32_t kLayoutVersion = 1;

/// Written by the daemon each time it leases the segment; informational for the owner (it
/// confirms the fd is the slot and generation it was told). Readers never trust it.
struct SegmentHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t segment;     // pool slot index (1-based: 0 means "attached one-off memfd")
  std::uint32_t generation;  // bumped each time the slot is recycled
  std::uint32_t reserved0;
  std::uint64_t size;  // bytes, this header included
  std::uint64_t reserved[4];
};
static_assert(sizeof(SegmentHeader) == kCacheLine);

/// Block states. The owner moves free -> writing -> sealed; the reader sealed -> released;
/// the owner reclaims released (and abandoned) blocks when it next needs room.
enum class BlockState : std::uint32_t { free = 0, writing = 1, sealed = 2, released = 3 };

/// The state word packs the segment generation with the state, so a release by a reader
/// of an earlier generation (a recycled slot) can never compare-and-swap a current block.
constexpr std::uint64_t pack_state(std::uint32_t generation, BlockState state) {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(state);
}
constexpr std::uint32_t state_generation(std::uint64_t word) {
  return static_cast<std::uint32_t>(word >> 32);
}
constexpr BlockState state_of(std::uint64_t word) {
  return static_cast<BlockState>(static_cast<std::uint32_t>(word));
}

/// The header before every block's payload. Every field is accessed through
/// std::atomic_ref, as two processes may look at it at once.
struct BlockHeader {
  std::uint64_t state;     // pack_state(generation, BlockState)
  std::uint64_t magic;     // kBlockMagic
  std::uint64_t offset;    // the payload's offset in the segment (this header's + 64)
  std::uint64_t length;    // payload bytes; final once sealed
  std::uint64_t capacity;  // bytes reserved after the header (multiple of 64)
  std::uint64_t reserved[3];
};
static_assert(sizeof(BlockHeader) == kCacheLine);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "shared-memory state words must be lock-free across processes");

/// The header word at `field_offset` (offsetof(BlockHeader, ...)) of the header at `header`,
/// as an atomic: two processes may touch it at once.
inline std::atomic_ref<std::uint64_t> header_word(std::byte* header, std::size_t field_offset) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(header + field_offset));
}

/// A copy of a block header taken out of shared memory, to be checked at leisure.
struct BlockHeaderCopy {
  std::uint64_t state = 0;
  std::uint64_t magic = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t capacity = 0;
};

/// Where blocks may start: right after the segment header.
inline constexpr std::uint64_t kFirstBlockOffset = sizeof(SegmentHeader);
/// The smallest segment the layout allows (a header and one cache-line block).
inline constexpr std::uint64_t kMinSegmentSize = kFirstBlockOffset + 2 * kCacheLine;

/// Copies the header at `header` out of shared memory: the state first (acquire, so the
/// fields the owner wrote before sealing are visible), then the other fields.
BlockHeaderCopy copy_block_header(const std::byte* header);

/// Writes the segment header (daemon side, on lease).
void write_segment_header(std::byte* segment_base, std::uint32_t segment, std::uint32_t generation,
                          std::uint64_t size);

/// Checks a segment's fd against `info` (a memfd sealed against shrink/grow, or a named
/// /dev/shm object, of at least info.size bytes: SHM_BAD_FD otherwise; segment 0 is
/// SHM_UNKNOWN_SEGMENT) and maps it read-write with every page pre-faulted.
proto::Result<platform::Mapping> map_segment(int fd, const proto::SegmentInfo& info);

}  // namespace fastmd::shm
