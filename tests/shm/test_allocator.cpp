// The owner's allocator: placement, full segment, wrap-around, out-of-order release,
// write-then-shrink, grow, waiting for space, the owner's hook when full, and a property test
// over many seeds.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "fastmd/shm/segment.hpp"
#include "segment_fixture.hpp"

using fastmd::proto::Errc;
using fastmd::proto::ShmHandle;
using fastmd::shm::kCacheLine;
using fastmd::shm::kFirstBlockOffset;
using fastmd::shm::round_to_cache_line;
using fastmd::shm::testing::fill_pattern;
using fastmd::shm::testing::has_pattern;
using fastmd::shm::testing::SegmentFixture;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kHeader = sizeof(fastmd::shm::BlockHeader);

ShmHandle write_block(SegmentFixture& f, std::size_t length, std::uint64_t seed) {
  auto block = f.writer->allocate(length, 0ms);
  REQUIRE(block.ok());
  fill_pattern(block->data(), seed);
  return block->seal(length);
}

}  // namespace

TEST_CASE("a sealed block is read in place by the peer, released, and reclaimed", "[shm]") {
  SegmentFixture f(64 * 1024);
  const ShmHandle handle = write_block(f, 1000, 1);
  CHECK(handle.segment == f.info.segment);
  CHECK(handle.generation == f.info.generation);
  CHECK(handle.offset == kFirstBlockOffset + kHeader);
  CHECK(handle.offset % kCacheLine == 0);
  CHECK(handle.length == 1000);

  auto view = f.reader->read(handle);
  REQUIRE(view.ok());
  CHECK(view->size() == 1000);
  CHECK(has_pattern(*view, 1));
  // In place: the reader's bytes are the writer's bytes, not a copy.
  CHECK(view->data() != nullptr);

  f.reader->release(handle);
  CHECK(f.writer->stats().blocks_held == 1);  // reclaim is lazy
  // Filling the segment forces the reclaim.
  auto big = f.writer->allocate(f.writer->max_block(), 0ms);
  REQUIRE(big.ok());
  CHECK(f.writer->stats().reclaimed == 1);
}

TEST_CASE("a full segment answers SHM_NO_SPACE until a reader releases", "[shm]") {
  SegmentFixture f(kFirstBlockOffset + 4 * (kHeader + 1024));
  std::vector<ShmHandle> held;
  for (int i = 0; i < 4; ++i) held.push_back(write_block(f, 1024, i));
  auto none = f.writer->allocate(1, 0ms);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::shm_no_space);
  CHECK(f.writer->stats().no_space == 1);

  f.reader->release(held[2]);
  auto again = f.writer->allocate(1024, 0ms);
  REQUIRE(again.ok());
  const ShmHandle reused = again->seal(1024);
  CHECK(reused.offset == held[2].offset);
  for (int i : {0, 1, 3}) CHECK(has_pattern(*f.reader->read(held[i]), i));
}

TEST_CASE("payloads larger than a block are PAYLOAD_TOO_LARGE; the largest one fits", "[shm]") {
  SegmentFixture f(64 * 1024);
  CHECK(f.writer->max_block() == 64 * 1024 - kFirstBlockOffset - kHeader);
  auto too_big = f.writer->allocate(f.writer->max_block() + 1, 0ms);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == Errc::payload_too_large);
  auto largest = f.writer->allocate(f.writer->max_block(), 0ms);
  REQUIRE(largest.ok());
  CHECK(largest->data().size() == f.writer->max_block());
}

TEST_CASE("allocation wraps around and skips blocks still held", "[shm]") {
  // Room for exactly three blocks of 1 KiB.
  SegmentFixture f(kFirstBlockOffset + 3 * (kHeader + 1024));
  const ShmHandle a = write_block(f, 1024, 10);
  const ShmHandle b = write_block(f, 1024, 11);
  const ShmHandle c = write_block(f, 1024, 12);
  // Free the first and the last; the second stays held in the middle.
  f.reader->release(a);
  f.reader->release(c);
  const ShmHandle d = write_block(f, 1024, 13);  // wraps to the start
  CHECK(d.offset == a.offset);
  const ShmHandle e = write_block(f, 1024, 14);  // skips b, lands after it
  CHECK(e.offset == c.offset);
  CHECK(has_pattern(*f.reader->read(b), 11));
  CHECK(has_pattern(*f.reader->read(d), 13));
  CHECK(has_pattern(*f.reader->read(e), 14));
}

TEST_CASE("out-of-order releases are reclaimed wherever they are", "[shm]") {
  SegmentFixture f(kFirstBlockOffset + 6 * (kHeader + 512));
  std::vector<ShmHandle> blocks;
  for (int i = 0; i < 6; ++i) blocks.push_back(write_block(f, 512, 100 + i));
  for (int i : {4, 1, 3}) f.reader->release(blocks[i]);
  std::vector<std::uint64_t> reused;
  for (int i = 0; i < 3; ++i) reused.push_back(write_block(f, 512, 200 + i).offset);
  std::sort(reused.begin(), reused.end());
  CHECK(reused == std::vector<std::uint64_t>{blocks[1].offset, blocks[3].offset, blocks[4].offset});
  for (int i : {0, 2, 5}) CHECK(has_pattern(*f.reader->read(blocks[i]), 100 + i));
  CHECK(f.writer->stats().reclaimed == 3);
}

TEST_CASE("sealing fewer bytes than allocated frees the tail at once", "[shm]") {
  SegmentFixture f(64 * 1024);
  auto block = f.writer->allocate(8192, 0ms);
  REQUIRE(block.ok());
  const ShmHandle small = block->seal(100);
  CHECK(small.length == 100);
  const ShmHandle next = write_block(f, 10, 2);
  CHECK(next.offset == small.offset + round_to_cache_line(100) + kHeader);
  CHECK(f.writer->stats().bytes_held == 2 * kHeader + round_to_cache_line(100) + kCacheLine);
}

TEST_CASE("an unsealed block that is dropped gives its space back", "[shm]") {
  SegmentFixture f(kFirstBlockOffset + kHeader + 4096);
  {
    auto block = f.writer->allocate(4096, 0ms);
    REQUIRE(block.ok());
    CHECK(f.writer->stats().blocks_held == 1);
  }
  CHECK(f.writer->stats().blocks_held == 0);
  CHECK(f.writer->allocate(4096, 0ms).ok());
}

TEST_CASE("a block grows in place when the space after it is free, else moves", "[shm]") {
  SegmentFixture f(64 * 1024);
  auto block = f.writer->allocate(100, 0ms);
  REQUIRE(block.ok());
  fill_pattern(block->data(), 5);
  const auto* before = block->data().data();
  REQUIRE(block->grow(4000, 100, 0ms).ok());
  CHECK(block->data().data() == before);  // in place
  CHECK(block->capacity() == 4000);

  // A neighbour right after the block forces a move; the kept bytes come along.
  const ShmHandle neighbour = write_block(f, 64, 6);
  REQUIRE(block->grow(20000, 100, 0ms).ok());
  CHECK(block->data().data() != before);
  CHECK(has_pattern(block->data().first(100), 5));
  const ShmHandle grown = block->seal(100);
  CHECK(has_pattern(*f.reader->read(grown), 5));
  CHECK(has_pattern(*f.reader->read(neighbour), 6));

  auto other = f.writer->allocate(10, 0ms);
  REQUIRE(other.ok());
  auto too_big = other->grow(f.writer->max_block() + 1, 0, 0ms);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == Errc::payload_too_large);
  CHECK(other->capacity() == 10);  // unchanged on failure
}

TEST_CASE("a writer waits a bounded time for a reader to release space", "[shm]") {
  SegmentFixture f(kFirstBlockOffset + kHeader + 4096);
  const ShmHandle held = write_block(f, 4096, 1);
  std::thread reader([&] {
    std::this_thread::sleep_for(30ms);
    f.reader->release(held);
  });
  auto block = f.writer->allocate(4096, 5000ms);
  reader.join();
  REQUIRE(block.ok());
  CHECK(f.writer->stats().waits == 1);

  const auto start = std::chrono::steady_clock::now();
  auto none = f.writer->allocate(64, 20ms);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::shm_no_space);
  CHECK(std::chrono::steady_clock::now() - start >= 20ms);
}

TEST_CASE(
    "a writer with no room asks its owner's hook again after each pause, and gets the blocks "
    "the hook took back",
    "[shm]") {
  SegmentFixture f(kFirstBlockOffset + kHeader + 4096);
  constexpr fastmd::shm::HolderId kHolder = 7;
  const ShmHandle held = write_block(f, 4096, 1);
  f.writer->lend(held, kHolder);
  int asked = 0;
  // The holder's process is seen gone on the third question; take_back() locks the writer,
  // so the hook runs without the writer's lock.
  f.writer->set_when_full([&] {
    if (++asked == 3) CHECK(f.writer->take_back(kHolder) == 1);
  });
  auto block = f.writer->allocate(4096, 5000ms);
  REQUIRE(block.ok());
  CHECK(asked == 3);
  CHECK(f.writer->stats().waits == 1);
  CHECK(f.writer->stats().taken_back == 1);

  // A hook that finds nothing to take back leaves the answer as it was: no room.
  auto none = f.writer->allocate(64, 0ms);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::shm_no_space);
  CHECK(asked == 4);
}

TEST_CASE("random allocation and release orders keep blocks disjoint and intact", "[shm]") {
  // Property: whatever the order, every held block lies inside the segment, cache-line
  // aligned, disjoint from every other, and still holds its bytes; once all are released,
  // the whole segment is one free block again.
  constexpr std::uint64_t kSize = 256 * 1024;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    SegmentFixture f(kSize);
    std::mt19937_64 random(seed);
    std::vector<std::pair<ShmHandle, std::uint64_t>> held;  // handle, pattern seed
    std::uint64_t next_pattern = seed * 1000;
    for (int step = 0; step < 300; ++step) {
      if (held.empty() || random() % 3 != 0) {
        const std::size_t length = random() % 4 == 0 ? random() % 40000 : random() % 2000;
        auto block = f.writer->allocate(length, 0ms);
        if (!block) {
          REQUIRE(block.error().code == Errc::shm_no_space);
          continue;
        }
        fill_pattern(block->data(), next_pattern);
        const std::size_t used = random() % 2 == 0 ? length : length / 2;
        held.emplace_back(block->seal(used), next_pattern++);
      } else {
        const std::size_t victim = random() % held.size();
        f.reader->release(held[victim].first);
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(victim));
      }
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
    for (const auto& [handle, pattern] : held) {
      REQUIRE(handle.offset % kCacheLine == 0);
      REQUIRE(handle.offset >= kFirstBlockOffset + kHeader);
      REQUIRE(handle.offset + handle.length <= kSize);
      auto view = f.reader->read(handle);
      REQUIRE(view.ok());
      REQUIRE(has_pattern(*view, pattern));
      spans.emplace_back(handle.offset - kHeader,
                         handle.offset + round_to_cache_line(handle.length));
    }
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) REQUIRE(spans[i - 1].second <= spans[i].first);
    for (const auto& entry : held) f.reader->release(entry.first);
    auto whole = f.writer->allocate(f.writer->max_block(), 0ms);
    REQUIRE(whole.ok());
  }
}
