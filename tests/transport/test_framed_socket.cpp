// Tests of FramedSocket's reading: a receive stops at a read that empties the socket, and what
// arrives after it, a frame split across reads, and an EOF behind the last frame are all still
// seen by the receives that follow (the callers poll level-triggered).
#include <sys/socket.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/proto/codec.hpp"
#include "framed_socket.hpp"

using fastmd::ipc::detail::FramedSocket;
using fastmd::platform::UniqueFd;
using fastmd::proto::ByteBuffer;
using fastmd::proto::Message;

namespace {

struct Pair {
  UniqueFd writer;
  FramedSocket reader;
};

Pair connected_pair(fastmd::ipc::detail::ReadOptions read = {}) {
  auto fds = fastmd::platform::make_socketpair();
  REQUIRE(fds);
  return Pair{std::move(fds->first),
              FramedSocket(std::move(fds->second), fastmd::proto::DecodeLimits::data(), read)};
}

void send_message(const UniqueFd& to, const Message& message) {
  ByteBuffer frame;
  fastmd::proto::append_frame(message, frame);
  std::size_t sent = 0;
  while (sent < frame.size()) {
    const ssize_t n = ::send(to.get(), frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    sent += static_cast<std::size_t>(n);
  }
}

void send_frame(const UniqueFd& to, std::uint64_t id, const std::string& payload) {
  send_message(to, Message::request(id, "echo", fastmd::proto::as_bytes(payload)));
}

// One receive() that must succeed: whether the peer's end is still open.
bool receive_open(FramedSocket& socket) {
  auto received = socket.receive();
  REQUIRE(received);
  return *received;
}

// The ids of the complete frames receive() has made available.
std::vector<std::uint64_t> frames_ready(FramedSocket& socket) {
  std::vector<std::uint64_t> ids;
  while (true) {
    auto inbound = socket.next();
    REQUIRE(inbound);
    if (!*inbound) return ids;
    ids.push_back((*inbound)->message.id);
  }
}

}  // namespace

TEST_CASE("bytes sent after a receive emptied the socket are read by the next receive",
          "[transport]") {
  Pair pair = connected_pair();
  send_frame(pair.writer, 1, "first");
  REQUIRE(receive_open(pair.reader));
  CHECK(frames_ready(pair.reader) == std::vector<std::uint64_t>{1});

  send_frame(pair.writer, 2, "second");
  send_frame(pair.writer, 3, "third");
  REQUIRE(receive_open(pair.reader));
  CHECK(frames_ready(pair.reader) == std::vector<std::uint64_t>{2, 3});
}

TEST_CASE("a frame larger than one read is whole after the receives it takes", "[transport]") {
  Pair pair = connected_pair();
  const std::string payload(200 * 1024, 'm');
  send_frame(pair.writer, 9, payload);
  std::vector<std::uint64_t> ids;
  for (int receives = 0; receives < 16 && ids.empty(); ++receives) {
    REQUIRE(receive_open(pair.reader));
    ids = frames_ready(pair.reader);
  }
  CHECK(ids == std::vector<std::uint64_t>{9});
}

TEST_CASE("an EOF right behind the last frame is reported after the frame is delivered",
          "[transport]") {
  Pair pair = connected_pair();
  send_frame(pair.writer, 4, "last words");
  pair.writer.reset();
  std::vector<std::uint64_t> ids;
  bool open = true;
  for (int receives = 0; receives < 4 && open; ++receives) {
    open = receive_open(pair.reader);
    for (std::uint64_t id : frames_ready(pair.reader)) ids.push_back(id);
  }
  CHECK(ids == std::vector<std::uint64_t>{4});
  CHECK_FALSE(open);
}

TEST_CASE("a receive that used its read budget says there is more to read", "[transport]") {
  Pair pair = connected_pair({.chunk = 4096, .reads_per_receive = 1});
  for (std::uint64_t id = 1; id <= 3; ++id) send_frame(pair.writer, id, std::string(3000, 'b'));
  REQUIRE(receive_open(pair.reader));
  CHECK(pair.reader.more_to_read());
  std::vector<std::uint64_t> ids = frames_ready(pair.reader);
  for (int receives = 0; receives < 16 && pair.reader.more_to_read(); ++receives) {
    REQUIRE(receive_open(pair.reader));
    for (std::uint64_t id : frames_ready(pair.reader)) ids.push_back(id);
  }
  CHECK(ids == std::vector<std::uint64_t>{1, 2, 3});
  CHECK_FALSE(pair.reader.more_to_read());
}

TEST_CASE("an edge-triggered reader reads past a short read to the EOF behind it", "[transport]") {
  Pair pair = connected_pair({.edge_triggered = true});
  send_frame(pair.writer, 5, "goodbye");
  pair.writer.reset();
  // One receive: its poller would not wake again for an EOF that has already come.
  CHECK_FALSE(receive_open(pair.reader));
  CHECK(frames_ready(pair.reader) == std::vector<std::uint64_t>{5});
}

TEST_CASE("a request whose announced fd never came is named by its id for the error answer",
          "[transport]") {
  Pair pair = connected_pair();
  Message request = Message::request(42, "echo");
  request.fds = 1;
  send_message(pair.writer, request);
  REQUIRE(receive_open(pair.reader));
  auto inbound = pair.reader.next();
  REQUIRE_FALSE(inbound);
  CHECK(inbound.error().code == fastmd::proto::Errc::fd_mismatch);
  CHECK(pair.reader.failed_request_id() == 42);
}
