// Tests of a direct channel's rings (channel_ring.hpp, PROTOCOL.md §5.5) at the transport
// layer: two FramedSockets over a socketpair that offered each other rings, and a hostile peer
// whose ring file is written by hand. What an honest pair must show: frames without fds go
// through the rings and arrive whole, also across the ring's end and when it is full; a
// sleeping reader is rung once per episode and an awake one never. What a hostile ring file
// must get: the coded error for that channel, never a read outside the file.
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../support/forged_ring.hpp"
#include "channel_ring.hpp"
#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/proto/codec.hpp"
#include "framed_socket.hpp"

using fastmd::ipc::detail::ChannelRing;
using fastmd::ipc::detail::FramedSocket;
using fastmd::ipc::detail::RingSleep;
using fastmd::platform::UniqueFd;
using fastmd::proto::ByteBuffer;
using fastmd::proto::Errc;
using fastmd::proto::Message;
using fastmd::testing::ForgedRing;
namespace ring = fastmd::ipc::detail::ring;

namespace {

constexpr std::uint32_t kSmallRing = fastmd::proto::kMinRingBytes;

FramedSocket framed(UniqueFd fd) {
  return FramedSocket(std::move(fd), fastmd::proto::DecodeLimits::data());
}

// Offers `socket` a ring of `capacity` bytes, as Endpoint::offer_ring does.
void offer(FramedSocket& socket, std::uint32_t capacity = kSmallRing) {
  auto created = ChannelRing::create(capacity);
  REQUIRE(created);
  const int file = created->file();
  REQUIRE(socket.send(FramedSocket::ring_offer(), {&file, 1}));
  socket.offer_ring(std::move(*created));
}

// Reads `socket` (its socket and its ring) until no frame is left; the ids of the frames.
std::vector<std::uint64_t> read_all(FramedSocket& socket) {
  std::vector<std::uint64_t> ids;
  auto open = socket.receive();
  REQUIRE(open);
  for (;;) {
    auto inbound = socket.next();
    REQUIRE(inbound);
    if (!*inbound) return ids;
    ids.push_back((*inbound)->message.id);
  }
}

std::pair<UniqueFd, UniqueFd> socketpair_or_fail() {
  auto fds = fastmd::platform::make_socketpair();
  REQUIRE(fds);
  return std::move(*fds);
}

// Two sockets of one channel whose rings are live both ways.
struct RingedPair {
  explicit RingedPair(std::pair<UniqueFd, UniqueFd> fds = socketpair_or_fail())
      : a(framed(std::move(fds.first))), b(framed(std::move(fds.second))) {
    offer(a);
    offer(b);
    CHECK(read_all(a).empty());  // the offers are the transport's own frames
    CHECK(read_all(b).empty());
    REQUIRE(a.ring_live());
    REQUIRE(b.ring_live());
  }
  FramedSocket a;
  FramedSocket b;
};

// Bytes waiting in a socket's receive queue.
int queued_bytes(const FramedSocket& socket) {
  int bytes = 0;
  REQUIRE(::ioctl(socket.fd(), FIONREAD, &bytes) == 0);
  return bytes;
}

Message request(std::uint64_t id, std::size_t size = 16) {
  static const std::string payload(64 * 1024, 'r');
  return Message::request(id, "echo",
                          fastmd::proto::as_bytes(std::string_view(payload).substr(0, size)));
}

ByteBuffer body_of(const Message& message) {
  ByteBuffer frame;
  fastmd::proto::append_frame(message, frame);
  return ByteBuffer(frame.begin() + fastmd::proto::kFrameHeaderBytes, frame.end());
}

// A victim socket that offered its ring, and the attacker's raw end of its channel.
struct Victim {
  explicit Victim(std::pair<UniqueFd, UniqueFd> fds = socketpair_or_fail())
      : attacker(std::move(fds.first)), socket(framed(std::move(fds.second))) {
    offer(socket);
  }
  UniqueFd attacker;
  FramedSocket socket;
};

void send_raw(const UniqueFd& to, const Message& message, std::vector<int> fds = {}) {
  ByteBuffer frame;
  fastmd::proto::append_frame(message, frame);
  const iovec part{frame.data(), frame.size()};
  auto sent = fastmd::platform::send_with_fds(to.get(), {&part, 1}, fds);
  REQUIRE(sent);
  REQUIRE(sent->bytes == frame.size());
}

// Sends the forged ring as the attacker's offer; the victim's error on reading, if any.
std::optional<Errc> offer_forged(Victim& v, const ForgedRing& forged) {
  send_raw(v.attacker, FramedSocket::ring_offer(), {forged.fd.get()});
  auto open = v.socket.receive();
  if (!open) return open.error().code;
  for (;;) {
    auto inbound = v.socket.next();
    if (!inbound) return inbound.error().code;
    if (!*inbound) return std::nullopt;
  }
}

// After the victim took the forged ring: the error its next read of the ring gives, if any.
std::optional<Errc> read_error(Victim& v) {
  if (auto taken = v.socket.take_ring(); !taken) return taken.error().code;
  for (;;) {
    auto inbound = v.socket.next();
    if (!inbound) return inbound.error().code;
    if (!*inbound) return std::nullopt;
  }
}

}  // namespace

TEST_CASE("frames without fds travel through the rings once both sides offered theirs",
          "[transport][ring]") {
  RingedPair pair;
  for (std::uint64_t id = 1; id <= 20; ++id) REQUIRE(pair.a.send(request(id)));
  CHECK(queued_bytes(pair.b) == 0);  // nothing went by the socket
  CHECK(pair.b.ring_readable());
  std::vector<std::uint64_t> expected;
  for (std::uint64_t id = 1; id <= 20; ++id) expected.push_back(id);
  CHECK(read_all(pair.b) == expected);
  CHECK_FALSE(pair.b.ring_readable());
}

TEST_CASE("a frame with fds goes by the socket beside the ring, and both arrive",
          "[transport][ring]") {
  RingedPair pair;
  auto memfd = fastmd::platform::create_memfd("payload", 4096);
  REQUIRE(memfd);
  Message with_fd = request(2);
  with_fd.fds = 1;
  const int fd = memfd->get();
  REQUIRE(pair.a.send(request(1)));
  REQUIRE(pair.a.send(with_fd, {&fd, 1}));
  CHECK(queued_bytes(pair.b) > 0);
  std::vector<std::uint64_t> ids = read_all(pair.b);
  std::sort(ids.begin(), ids.end());  // the two paths are not ordered with each other
  CHECK(ids == std::vector<std::uint64_t>{1, 2});
}

TEST_CASE("frames wrap around the ring's end and arrive whole and in order", "[transport][ring]") {
  RingedPair pair;
  std::vector<std::uint64_t> received;
  for (std::uint64_t id = 1; id <= 200; ++id) {
    REQUIRE(pair.a.send(request(id, 300 + id % 7)));
    if (id % 5 == 0) {
      for (std::uint64_t got : read_all(pair.b)) received.push_back(got);
    }
  }
  std::vector<std::uint64_t> expected;
  for (std::uint64_t id = 1; id <= 200; ++id) expected.push_back(id);
  CHECK(received == expected);
  CHECK(queued_bytes(pair.b) == 0);
}

TEST_CASE("a full ring sends the next frames by the socket: none is lost", "[transport][ring]") {
  RingedPair pair;
  for (std::uint64_t id = 1; id <= 100; ++id) REQUIRE(pair.a.send(request(id, 200)));
  CHECK(queued_bytes(pair.b) > 0);  // 100 frames of 200 B do not fit 4 KiB
  std::vector<std::uint64_t> ids = read_all(pair.b);
  std::sort(ids.begin(), ids.end());
  CHECK(ids.size() == 100);
  CHECK(ids.front() == 1);
  CHECK(ids.back() == 100);
}

TEST_CASE("frames larger than a quarter of the ring go by the socket", "[transport][ring]") {
  RingedPair pair;
  REQUIRE(pair.a.send(request(1, kSmallRing / 4)));
  CHECK(queued_bytes(pair.b) > static_cast<int>(kSmallRing / 4));
  CHECK_FALSE(pair.b.ring_readable());
  CHECK(read_all(pair.b) == std::vector<std::uint64_t>{1});
}

TEST_CASE("a sleeping reader is rung once per sleep, and an awake one never", "[transport][ring]") {
  RingedPair pair;
  REQUIRE(pair.a.send(request(1)));
  CHECK(queued_bytes(pair.b) == 0);  // awake: no doorbell
  {
    const RingSleep sleep(pair.b);
    CHECK(sleep.frames_waiting());  // frame 1 is still unread: it would not sleep
  }
  CHECK(read_all(pair.b) == std::vector<std::uint64_t>{1});
  {
    const RingSleep sleep(pair.b);
    CHECK_FALSE(sleep.frames_waiting());
    REQUIRE(pair.a.send(request(2)));
    const int doorbell = queued_bytes(pair.b);
    CHECK(doorbell > 0);
    REQUIRE(pair.a.send(request(3)));  // the same sleep: rung already
    CHECK(queued_bytes(pair.b) == doorbell);
  }
  CHECK(read_all(pair.b) == std::vector<std::uint64_t>{2, 3});  // the doorbell is not a frame
  {
    const RingSleep first(pair.b);
    REQUIRE(pair.a.send(request(4)));
    CHECK(queued_bytes(pair.b) > 0);
    CHECK(read_all(pair.b) == std::vector<std::uint64_t>{4});
    {
      const RingSleep second(pair.b);  // a second thread sleeps on it too
    }
    // The second one woke; the first still sleeps, in a new episode: it is rung again.
    REQUIRE(pair.a.send(request(5)));
    CHECK(queued_bytes(pair.b) > 0);
  }
  CHECK(read_all(pair.b) == std::vector<std::uint64_t>{5});
}

TEST_CASE("a doorbell read by another thread leaves the sleeper rung again for later frames",
          "[transport][ring]") {
  // A synchronous caller sleeps on a channel it borrowed, polling its socket; the client's I/O
  // thread, whose poll had reported the socket just before, reads the doorbell and the frame
  // that came with it. The caller still sleeps: the next frames must ring for it, or they wait
  // in the ring for good (a hang seen once in 20 runs of the client's threaded test).
  RingedPair pair;
  const RingSleep caller(pair.b);
  REQUIRE(pair.a.send(request(1)));
  REQUIRE(queued_bytes(pair.b) > 0);
  CHECK(read_all(pair.b) == std::vector<std::uint64_t>{1});  // the I/O thread's read
  CHECK(queued_bytes(pair.b) == 0);
  REQUIRE(pair.a.send(request(2)));
  CHECK(queued_bytes(pair.b) > 0);
  CHECK(read_all(pair.b) == std::vector<std::uint64_t>{2});
}

TEST_CASE("a ring file that is not a ring ends the channel with SHM_BAD_RING or SHM_BAD_FD",
          "[transport][ring][hostile]") {
  SECTION("a header of another layout") {
    Victim v;
    ForgedRing forged = ForgedRing::make();
    fastmd::proto::store_u32_le(forged.map.data() + ring::kVersionOffset, 2);
    CHECK(offer_forged(v, forged) == Errc::shm_bad_ring);
  }
  SECTION("a capacity that does not match the file's size") {
    Victim v;
    ForgedRing forged = ForgedRing::make(kSmallRing, ring::kDataOffset + 2 * kSmallRing);
    CHECK(offer_forged(v, forged) == Errc::shm_bad_ring);
  }
  SECTION("a capacity that is not a power of two") {
    Victim v;
    ForgedRing forged = ForgedRing::make(kSmallRing + 8);
    CHECK(offer_forged(v, forged) == Errc::shm_bad_ring);
  }
  SECTION("a file smaller than any ring") {
    Victim v;
    ForgedRing forged = ForgedRing::make(kSmallRing, ring::kDataOffset + 64);
    CHECK(offer_forged(v, forged) == Errc::shm_bad_fd);
  }
  SECTION("a file that can still be shrunk under the mapping") {
    if (!fastmd::platform::capabilities().sealing) return;  // posix: the size check is all
    Victim v;
    ForgedRing forged = ForgedRing::make(kSmallRing, 0, /*seal=*/false);
    CHECK(offer_forged(v, forged) == Errc::shm_bad_fd);
  }
  SECTION("an offer without its file") {
    Victim v;
    send_raw(v.attacker, FramedSocket::ring_offer());  // fds: 1, none attached
    REQUIRE(v.socket.receive());
    auto inbound = v.socket.next();
    REQUIRE_FALSE(inbound);
    CHECK(inbound.error().code == Errc::fd_mismatch);
  }
  SECTION("a second offer") {
    Victim v;
    ForgedRing forged = ForgedRing::make();
    CHECK(offer_forged(v, forged) == std::nullopt);
    CHECK(offer_forged(v, forged) == Errc::unexpected_message);
  }
}

TEST_CASE("indices and records out of a ring's bounds end the channel with their code",
          "[transport][ring][hostile]") {
  Victim v;
  ForgedRing forged = ForgedRing::make();
  REQUIRE(offer_forged(v, forged) == std::nullopt);
  const ByteBuffer body = body_of(request(9));
  const auto frame_bytes = static_cast<std::uint32_t>(body.size());

  SECTION("a producer index more than the ring ahead") {
    forged.set_word(ring::kTailOffset, kSmallRing + 8);
    CHECK(read_error(v) == Errc::shm_bad_ring);
  }
  SECTION("a producer index behind what was read") {
    forged.put(0, frame_bytes, body);
    forged.set_word(ring::kTailOffset, (4 + frame_bytes + 7) / 8 * 8);
    CHECK(read_error(v) == std::nullopt);
    forged.set_word(ring::kTailOffset, 8);  // moved back: tail - head wraps around
    CHECK(read_error(v) == Errc::shm_bad_ring);
  }
  SECTION("a record longer than what was published") {
    forged.put(0, frame_bytes, body);
    forged.set_word(ring::kTailOffset, 16);
    CHECK(read_error(v) == Errc::shm_bad_ring);
  }
  SECTION("a record that runs past the ring's end") {
    forged.put(0, kSmallRing, body);
    forged.set_word(ring::kTailOffset, kSmallRing);
    CHECK(read_error(v) == Errc::shm_bad_ring);
  }
  SECTION("a published count that is not whole records") {
    forged.set_word(ring::kTailOffset, 4);
    CHECK(read_error(v) == Errc::shm_bad_ring);
  }
  SECTION("a record of length 0") {
    forged.put(0, 0);
    forged.set_word(ring::kTailOffset, 8);
    CHECK(read_error(v) == Errc::frame_empty);
  }
  SECTION("a record longer than the largest frame") {
    forged.put(0, 0x7FFFFFFF);
    forged.set_word(ring::kTailOffset, kSmallRing);
    CHECK(read_error(v) == Errc::frame_too_large);
  }
  SECTION("a wrap marker that skips past what was published") {
    forged.put(0, ring::kWrapMarker);
    forged.set_word(ring::kTailOffset, 64);
    CHECK(read_error(v) == Errc::shm_bad_ring);
  }
  SECTION("a frame in the ring that announces fds") {
    Message with_fds = request(9);
    with_fds.fds = 1;
    const ByteBuffer announcing = body_of(with_fds);
    forged.put(0, static_cast<std::uint32_t>(announcing.size()), announcing);
    forged.set_word(ring::kTailOffset, (4 + announcing.size() + 7) / 8 * 8);
    CHECK(read_error(v) == Errc::fd_mismatch);
  }
  SECTION("a record that is not MessagePack") {
    forged.put(0, 4,
               ByteBuffer{std::byte{0xc1}, std::byte{0xc1}, std::byte{0xc1}, std::byte{0xc1}});
    forged.set_word(ring::kTailOffset, 8);
    CHECK(read_error(v) == Errc::malformed);
  }
  SECTION("an honest record after a wrap is read") {
    forged.put(0, frame_bytes, body);
    const std::uint64_t first = (4 + frame_bytes + 7) / 8 * 8;
    forged.set_word(ring::kTailOffset, first);
    CHECK(read_error(v) == std::nullopt);
    forged.put(first, ring::kWrapMarker);
    forged.put(0, frame_bytes, body);
    forged.set_word(ring::kTailOffset, kSmallRing + first);
    CHECK(read_error(v) == std::nullopt);
  }
}

TEST_CASE("a consumer index out of bounds fails the write that needed it with SHM_BAD_RING",
          "[transport][ring][hostile]") {
  Victim v;
  ForgedRing forged = ForgedRing::make();
  REQUIRE(offer_forged(v, forged) == std::nullopt);
  forged.set_word(ring::kHeadOffset, 1'000'000);  // the attacker claims to have read ahead
  std::optional<Errc> failed;
  for (std::uint64_t id = 1; id <= 100 && !failed; ++id) {
    auto sent = v.socket.send(request(id, 200));
    if (!sent) failed = sent.error().code;
  }
  CHECK(failed == Errc::shm_bad_ring);
}

TEST_CASE("frames published before the peer closed are handed on before its EOF",
          "[transport][ring]") {
  RingedPair pair;
  for (std::uint64_t id = 1; id <= 3; ++id) REQUIRE(pair.a.send(request(id)));
  pair.a.shut_down();
  auto open = pair.b.receive();
  REQUIRE(open);
  CHECK_FALSE(*open);
  std::vector<std::uint64_t> ids;
  for (;;) {
    auto inbound = pair.b.next();
    REQUIRE(inbound);
    if (!*inbound) break;
    ids.push_back((*inbound)->message.id);
  }
  CHECK(ids == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("a ring that ends in a wrap marker leaves nothing to read, and no reader spins on it",
          "[transport][ring][hostile]") {
  Victim v;
  ForgedRing forged = ForgedRing::make();
  REQUIRE(offer_forged(v, forged) == std::nullopt);
  forged.put(0, ring::kWrapMarker);
  forged.set_word(ring::kTailOffset, kSmallRing);
  CHECK(v.socket.ring_readable());
  CHECK(read_error(v) == std::nullopt);
  CHECK_FALSE(v.socket.ring_readable());
}

TEST_CASE("a consumer index the peer scribbles into this side's own file changes nothing here",
          "[transport][ring][hostile]") {
  Victim v;
  // The victim's own offer, as the attacker received it: its ring file, writable.
  fastmd::proto::ByteBuffer buffer(4096);
  auto got = fastmd::platform::recv_with_fds(v.attacker.get(), buffer, 4);
  REQUIRE(got);
  REQUIRE(got->fds.size() == 1);
  auto own =
      fastmd::platform::Mapping::map(got->fds[0].get(), ring::kDataOffset + kSmallRing, true);
  REQUIRE(own);
  ForgedRing forged = ForgedRing::make();
  REQUIRE(offer_forged(v, forged) == std::nullopt);
  std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(own->data() + ring::kHeadOffset))
      .store(12345);
  CHECK_FALSE(v.socket.ring_readable());
  CHECK(read_error(v) == std::nullopt);
}
