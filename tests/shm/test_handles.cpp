// Forged and stale handles, and bad segment fds: each is refused with the error code of
// PROTOCOL.md §4, checked in its order.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <limits>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/shm/segment.hpp"
#include "segment_fixture.hpp"

using fastmd::proto::Errc;
using fastmd::proto::SegmentInfo;
using fastmd::proto::ShmHandle;
using fastmd::shm::SegmentReader;
using fastmd::shm::testing::SegmentFixture;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kSize = 64 * 1024;
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

Errc refusal(const SegmentFixture& f, const ShmHandle& handle) {
  auto view = f.reader->read(handle);
  REQUIRE_FALSE(view.ok());
  return view.error().code;
}

}  // namespace

TEST_CASE("forged handles are refused with the documented error", "[shm]") {
  SegmentFixture f(kSize);
  auto block = f.writer->allocate(256, 0ms);
  REQUIRE(block.ok());
  const ShmHandle good = block->seal(256);
  REQUIRE(f.reader->read(good).ok());

  auto forged = [&](auto change) {
    ShmHandle h = good;
    change(h);
    return refusal(f, h);
  };
  SECTION("unknown segment") {
    CHECK(forged([](ShmHandle& h) { h.segment += 1; }) == Errc::shm_unknown_segment);
    CHECK(forged([](ShmHandle& h) { h.segment = 0; }) == Errc::shm_unknown_segment);
  }
  SECTION("stale generation") {
    CHECK(forged([](ShmHandle& h) { h.generation -= 1; }) == Errc::shm_stale_generation);
    CHECK(forged([](ShmHandle& h) { h.generation += 1; }) == Errc::shm_stale_generation);
  }
  SECTION("out of bounds") {
    CHECK(forged([](ShmHandle& h) { h.offset = kSize + 64; }) == Errc::shm_out_of_bounds);
    CHECK(forged([](ShmHandle& h) { h.length = kSize; }) == Errc::shm_out_of_bounds);
    CHECK(forged([](ShmHandle& h) { h.length = kSize - h.offset + 1; }) == Errc::shm_out_of_bounds);
  }
  SECTION("offset + length overflowing 64 bits") {
    CHECK(forged([](ShmHandle& h) { h.length = kMax - h.offset + 1; }) == Errc::shm_out_of_bounds);
    CHECK(forged([](ShmHandle& h) {
            h.offset = kMax - 63;
            h.length = 128;
          }) == Errc::shm_out_of_bounds);
    CHECK(forged([](ShmHandle& h) {
            h.offset = std::uint64_t{1} << 63;
            h.length = std::uint64_t{1} << 63;
          }) == Errc::shm_out_of_bounds);
  }
  SECTION("a header that does not match") {
    CHECK(forged([](ShmHandle& h) { h.length -= 1; }) == Errc::shm_bad_block);
    CHECK(forged([](ShmHandle& h) { h.offset += 64; }) == Errc::shm_bad_block);
    CHECK(forged([](ShmHandle& h) { h.offset += 1; }) == Errc::shm_bad_block);
    CHECK(forged([](ShmHandle& h) { h.offset = 0; }) == Errc::shm_bad_block);
    CHECK(forged([](ShmHandle& h) { h.offset = 64; }) == Errc::shm_bad_block);
  }
  SECTION("the checks run in the documented order") {
    // Unknown segment wins over everything, stale generation over bounds, bounds over block.
    CHECK(forged([](ShmHandle& h) {
            h.segment += 1;
            h.generation += 1;
            h.offset = kMax;
          }) == Errc::shm_unknown_segment);
    CHECK(forged([](ShmHandle& h) {
            h.generation += 1;
            h.offset = kMax;
          }) == Errc::shm_stale_generation);
    CHECK(forged([](ShmHandle& h) {
            h.offset = kSize + 1;  // misaligned too
          }) == Errc::shm_out_of_bounds);
  }
}

TEST_CASE("a block still being written, or already released, is SHM_BAD_BLOCK", "[shm]") {
  SegmentFixture f(kSize);
  auto writing = f.writer->allocate(128, 0ms);
  REQUIRE(writing.ok());
  // A handle guessed for the unsealed block: right place and length, but not sealed.
  auto sealed_first = f.writer->allocate(128, 0ms);
  REQUIRE(sealed_first.ok());
  const ShmHandle sealed = sealed_first->seal(128);
  ShmHandle guess = sealed;
  guess.offset = fastmd::shm::kFirstBlockOffset + sizeof(fastmd::shm::BlockHeader);
  REQUIRE(guess.offset + 128 + sizeof(fastmd::shm::BlockHeader) == sealed.offset);
  CHECK(refusal(f, guess) == Errc::shm_bad_block);

  f.reader->release(sealed);
  CHECK(refusal(f, sealed) == Errc::shm_bad_block);
}

TEST_CASE("a release with a stale or forged handle changes nothing", "[shm]") {
  SegmentFixture f(kSize);
  auto block = f.writer->allocate(512, 0ms);
  REQUIRE(block.ok());
  const ShmHandle good = block->seal(512);
  ShmHandle stale = good;
  stale.generation += 1;
  f.reader->release(stale);
  ShmHandle shifted = good;
  shifted.length = 100;
  f.reader->release(shifted);
  CHECK(f.reader->read(good).ok());  // still sealed, still readable
}

TEST_CASE("a ReadBlock releases on destruction and outlives its reader", "[shm]") {
  SegmentFixture f(kSize);
  auto block = f.writer->allocate(64, 0ms);
  REQUIRE(block.ok());
  std::memset(block->data().data(), 'x', 64);
  const ShmHandle handle = block->seal(64);
  auto held = f.reader->acquire(handle);
  REQUIRE(held.ok());
  f.reader.reset();  // e.g. ipc.peer_gone: the mapping stays while the block is held
  CHECK(static_cast<char>(held->bytes()[63]) == 'x');
  held->release();
  auto whole = f.writer->allocate(f.writer->max_block(), 0ms);
  CHECK(whole.ok());
}

TEST_CASE("segment fds that are not sealed memory of the claimed size are SHM_BAD_FD", "[shm]") {
  const SegmentInfo info{1, kSize, 1};
  SECTION("a socket") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    fastmd::platform::UniqueFd other(pair[1]);
    auto reader = SegmentReader::open(fastmd::platform::UniqueFd(pair[0]), info);
    REQUIRE_FALSE(reader.ok());
    CHECK(reader.error().code == Errc::shm_bad_fd);
  }
  SECTION("an unsealed memfd") {
    auto fd = fastmd::platform::create_memfd("unsealed", kSize);
    REQUIRE(fd.ok());
    auto reader = SegmentReader::open(std::move(*fd), info);
    if (fastmd::platform::capabilities().sealing) {
      REQUIRE_FALSE(reader.ok());
      CHECK(reader.error().code == Errc::shm_bad_fd);
      CHECK(reader.error().message.find("F_SEAL_SHRINK") != std::string::npos);
    } else {
      // No seals to ask for (docs/platforms.md): the size check is all there is.
      CHECK(reader.ok());
    }
  }
  SECTION("a sealed memfd smaller than claimed") {
    auto fd = fastmd::platform::create_memfd("short", kSize / 2);
    REQUIRE(fd.ok());
    REQUIRE(
        fastmd::platform::seal_where_supported(fd->get(), fastmd::platform::kSegmentSeals).ok());
    auto reader = SegmentReader::open(std::move(*fd), info);
    REQUIRE_FALSE(reader.ok());
    CHECK(reader.error().code == Errc::shm_bad_fd);
  }
  SECTION("segment 0 is reserved for one-off payloads") {
    auto fd = fastmd::platform::create_memfd("zero", kSize);
    REQUIRE(fd.ok());
    REQUIRE(
        fastmd::platform::seal_where_supported(fd->get(), fastmd::platform::kSegmentSeals).ok());
    auto reader = SegmentReader::open(std::move(*fd), SegmentInfo{0, kSize, 0});
    REQUIRE_FALSE(reader.ok());
    CHECK(reader.error().code == Errc::shm_unknown_segment);
  }
}
