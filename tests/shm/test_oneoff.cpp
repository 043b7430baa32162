// One-off sealed memfds: made from bytes, by a fill callback, or grown by appends; mapped
// read-only after the receiver's checks.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/shm/oneoff.hpp"
#include "segment_fixture.hpp"

using fastmd::proto::Errc;
using fastmd::shm::make_oneoff;
using fastmd::shm::map_attached;
using fastmd::shm::OneOffBuilder;
using fastmd::shm::testing::fill_pattern;
using fastmd::shm::testing::has_pattern;

TEST_CASE("a one-off payload is sealed immutable and maps back byte for byte", "[shm]") {
  std::vector<std::byte> bytes(100000);
  fill_pattern(bytes, 42);
  auto oneoff = make_oneoff(bytes);
  REQUIRE(oneoff.ok());
  CHECK(oneoff->handle == fastmd::proto::ShmHandle{0, 0, bytes.size(), 0});
  CHECK(oneoff->handle.attached_memfd());

  const int fd = oneoff->fd.get();
  auto seals = fastmd::platform::get_seals(fd);
  if (fastmd::platform::capabilities().sealing) {
    REQUIRE(seals.ok());
    CHECK((*seals & fastmd::platform::kOneOffSeals) == fastmd::platform::kOneOffSeals);
    CHECK(::ftruncate(fd, 10) != 0);
    CHECK(::pwrite(fd, "x", 1, 0) < 0);
    CHECK(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
  } else {
    // The documented degradation (docs/platforms.md): no seals, so a sender could still
    // change the payload; the receiver's size check and bounded reads are what remain.
    REQUIRE_FALSE(seals.ok());
    CHECK(seals.error().message.find("no seals") != std::string::npos);
  }

  auto mapped = map_attached(std::move(oneoff->fd), bytes.size());
  REQUIRE(mapped.ok());
  CHECK(mapped->size() == bytes.size());
  CHECK(has_pattern(mapped->bytes(), 42));
}

TEST_CASE("a fill callback writes in place and the file is cut to what it used", "[shm]") {
  auto oneoff = make_oneoff(1 << 20, [](std::span<std::byte> out) {
    fill_pattern(out.first(1234), 7);
    return std::size_t{1234};
  });
  REQUIRE(oneoff.ok());
  CHECK(oneoff->handle.length == 1234);
  auto info =
      fastmd::platform::check_memory_fd(oneoff->fd.get(), fastmd::platform::kOneOffSeals, 1234);
  REQUIRE(info.ok());
  CHECK(info->size == 1234);
  auto mapped = map_attached(std::move(oneoff->fd), 1234);
  REQUIRE(mapped.ok());
  CHECK(has_pattern(mapped->bytes(), 7));
}

TEST_CASE("an empty one-off payload works", "[shm]") {
  auto oneoff = make_oneoff(fastmd::proto::ByteView{});
  REQUIRE(oneoff.ok());
  auto mapped = map_attached(std::move(oneoff->fd), 0);
  REQUIRE(mapped.ok());
  CHECK(mapped->bytes().empty());
}

TEST_CASE("a builder grows a one-off payload of unknown size, in place or by copying", "[shm]") {
  // by_copy is macOS's way (an shm object is sized once), run here on Linux's objects too.
  const auto sizing = GENERATE(OneOffBuilder::Sizing::in_place, OneOffBuilder::Sizing::by_copy);
  CAPTURE(sizing == OneOffBuilder::Sizing::in_place ? "in place" : "by copy");
  auto builder = OneOffBuilder::create(100, sizing);
  REQUIRE(builder.ok());
  std::vector<std::byte> all(3 * 1024 * 1024);
  fill_pattern(all, 9);
  for (std::size_t at = 0; at < all.size(); at += 7000) {
    const std::size_t n = std::min<std::size_t>(7000, all.size() - at);
    REQUIRE(builder->append(fastmd::proto::ByteView(all).subspan(at, n)).ok());
  }
  CHECK(builder->size() == all.size());
  auto oneoff = builder->finish();
  REQUIRE(oneoff.ok());
  CHECK(oneoff->handle.length == all.size());
  auto info = fastmd::platform::check_memory_fd(oneoff->fd.get(), fastmd::platform::kOneOffSeals,
                                                all.size());
  REQUIRE(info.ok());
  if (sizing == OneOffBuilder::Sizing::in_place) {
    CHECK(info->size == all.size());  // cut to what was written
  } else {
    CHECK(info->size >= all.size());  // never cut: the handle's length bounds the payload
    CHECK(info->size % 4096 == 0);
  }
  auto mapped = map_attached(std::move(oneoff->fd), all.size());
  REQUIRE(mapped.ok());
  CHECK(has_pattern(mapped->bytes(), 9));
}

TEST_CASE("attached fds that are not immutable sealed memfds of the length are SHM_BAD_FD",
          "[shm]") {
  SECTION("unsealed") {
    auto fd = fastmd::platform::create_memfd("unsealed", 4096);
    REQUIRE(fd.ok());
    auto mapped = map_attached(std::move(*fd), 4096);
    if (fastmd::platform::capabilities().sealing) {
      REQUIRE_FALSE(mapped.ok());
      CHECK(mapped.error().code == Errc::shm_bad_fd);
    } else {
      CHECK(mapped.ok());  // no seals to ask for here (docs/platforms.md)
    }
  }
  if (fastmd::platform::capabilities().sealing) {
    SECTION("sealed against resizing but still writable") {
      auto fd = fastmd::platform::create_memfd("writable", 4096);
      REQUIRE(fd.ok());
      REQUIRE(fastmd::platform::add_seals(fd->get(), fastmd::platform::kSegmentSeals).ok());
      auto mapped = map_attached(std::move(*fd), 4096);
      REQUIRE_FALSE(mapped.ok());
      CHECK(mapped.error().code == Errc::shm_bad_fd);
      CHECK(mapped.error().message.find("F_SEAL_WRITE") != std::string::npos);
    }
  }
  SECTION("shorter than the handle claims") {
    auto oneoff = make_oneoff(fastmd::proto::as_bytes("short"));
    REQUIRE(oneoff.ok());
    auto mapped = map_attached(std::move(oneoff->fd), 6);
    REQUIRE_FALSE(mapped.ok());
    CHECK(mapped.error().code == Errc::shm_bad_fd);
  }
  SECTION("a pipe") {
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    fastmd::platform::UniqueFd write_end(pipe_fds[1]);
    auto mapped = map_attached(fastmd::platform::UniqueFd(pipe_fds[0]), 1);
    REQUIRE_FALSE(mapped.ok());
    CHECK(mapped.error().code == Errc::shm_bad_fd);
  }
}
