// A pool segment without a daemon: a sealed memfd as the daemon makes it, with a writer
// (owner) and a reader (peer) each holding their own fd, as after hello and introduce.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>

#include "fastmd/platform/memfd.hpp"
#include "fastmd/shm/segment_reader.hpp"
#include "fastmd/shm/segment_writer.hpp"

namespace fastmd::shm::testing {

struct SegmentFixture {
  explicit SegmentFixture(std::uint64_t size, std::uint32_t segment = 3,
                          std::uint32_t generation = 7)
      : info{segment, size, generation} {
    auto fd = platform::create_memfd("test-segment", size);
    REQUIRE(fd.ok());
    REQUIRE(platform::seal_where_supported(fd->get(), platform::kSegmentSeals).ok());
    memfd = std::move(*fd);
    auto owned = SegmentWriter::open(dup_fd(), info);
    REQUIRE(owned.ok());
    writer = std::move(*owned);
    auto peer = SegmentReader::open(dup_fd(), info);
    REQUIRE(peer.ok());
    reader = std::make_unique<SegmentReader>(std::move(*peer));
  }

  platform::UniqueFd dup_fd() const {
    return platform::UniqueFd(::fcntl(memfd.get(), F_DUPFD_CLOEXEC, 0));
  }

  proto::SegmentInfo info;
  platform::UniqueFd memfd;
  std::unique_ptr<SegmentWriter> writer;
  std::unique_ptr<SegmentReader> reader;
};

/// A byte stream derived from `seed` (xorshift), so a reader can tell blocks apart.
class Pattern {
 public:
  explicit Pattern(std::uint64_t seed) : x_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  std::byte next() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return static_cast<std::byte>(x_ >> 24);
  }

 private:
  std::uint64_t x_;
};

inline void fill_pattern(std::span<std::byte> out, std::uint64_t seed) {
  Pattern pattern(seed);
  for (auto& b : out) b = pattern.next();
}

inline bool has_pattern(proto::ByteView bytes, std::uint64_t seed) {
  Pattern pattern(seed);
  for (const auto b : bytes) {
    if (b != pattern.next()) return false;
  }
  return true;
}

}  // namespace fastmd::shm::testing
