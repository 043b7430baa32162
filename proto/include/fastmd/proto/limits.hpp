// fastmd/proto/limits.hpp — protocol constants and the limits every decode runs under
// (proto/PROTOCOL.md §1). A frame's length is checked against `max_frame` before any
// allocation; MessagePack unpack limits bound everything inside it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastmd::proto {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 4;

inline constexpr std::uint32_t kDefaultMaxControlFrame = 64 * 1024;
inline constexpr std::uint32_t kDefaultMaxDataFrame = 64 * 1024 * 1024 + 64 * 1024;
inline constexpr std::size_t kMaxMethodName = 128;
inline constexpr std::uint32_t kMaxFdsPerFrame = 4;

/// Payloads up to this size travel inline in the frame; larger ones go through shared memory.
inline constexpr std::size_t kDefaultInlineThreshold = 16 * 1024;

/// Bounds of a direct channel's ring (PROTOCOL.md §5.5): a power of two within them.
inline constexpr std::uint32_t kMinRingBytes = 4096;
inline constexpr std::uint32_t kMaxRingBytes = 64 * 1024 * 1024;

/// Segment 0 in a shm handle: the payload is in a one-off memfd attached to the frame.
inline constexpr std::uint32_t kAttachedMemfdSegment = 0;

struct DecodeLimits {
  std::uint32_t max_frame = kDefaultMaxControlFrame;
  std::size_t depth = 6;
  std::size_t array = 1024;
  std::size_t map = 64;
  std::size_t str = 64 * 1024;
  std::size_t ext = 0;

  static constexpr DecodeLimits control() { return DecodeLimits{}; }
  static constexpr DecodeLimits data(std::uint32_t max = kDefaultMaxDataFrame) {
    DecodeLimits limits;
    limits.max_frame = max;
    return limits;
  }
};

}  // namespace fastmd::proto
