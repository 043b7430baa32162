// forged_ring.hpp — a ring file written by hand (PROTOCOL.md §5.5), for the tests of what a
// peer that owns a ring can do to its reader: a valid header for the capacity asked (unless
// told otherwise), then whatever a test puts into its words and its ring.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include <catch2/catch.hpp>

#include "channel_ring.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/proto/codec.hpp"

namespace fastmd::testing {

struct ForgedRing {
  platform::UniqueFd fd;
  platform::Mapping map;

  /// A ring file of `size` bytes (0: exactly what `capacity` takes), sealed like an honest
  /// one unless `seal` is false.
  static ForgedRing make(std::uint32_t capacity = proto::kMinRingBytes, std::size_t size = 0,
                         bool seal = true) {
    namespace ring = ipc::detail::ring;
    if (size == 0) size = ring::kDataOffset + capacity;
    auto fd = platform::create_memfd("forged-ring", size);
    REQUIRE(fd);
    auto map = platform::Mapping::map(fd->get(), size, true);
    REQUIRE(map);
    std::memcpy(map->data() + ring::kMagicOffset, ring::kMagic, sizeof ring::kMagic);
    proto::store_u32_le(map->data() + ring::kVersionOffset, ring::kLayoutVersion);
    proto::store_u32_le(map->data() + ring::kCapacityOffset, capacity);
    if (seal) REQUIRE(platform::seal_where_supported(fd->get(), platform::kSegmentSeals));
    return ForgedRing{std::move(*fd), std::move(*map)};
  }

  /// Stores one of the file's u64 words (ring::kTailOffset, kHeadOffset, kSleepOffset).
  void set_word(std::size_t offset, std::uint64_t value) {
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(map.data() + offset))
        .store(value, std::memory_order_release);
  }

  /// Writes a record at ring offset `at`: a length prefix, then `body` (a frame's body).
  void put(std::size_t at, std::uint32_t length, const proto::ByteBuffer& body = {}) {
    std::byte* record = map.data() + ipc::detail::ring::kDataOffset + at;
    proto::store_u32_le(record, length);
    if (!body.empty()) std::memcpy(record + 4, body.data(), body.size());
  }
};

}  // namespace fastmd::testing
