// Unit tests of the frame codec: round trips, the writev split, error names, and that
// hostile headers are refused before anything large is allocated.
#include <algorithm>
#include <limits>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "fastmd/proto/codec.hpp"

using namespace fastmd::proto;

TEST_CASE("a request round-trips with its payload viewed in place") {
  const std::string text = "# Hello\n\nworld";
  ByteBuffer frame;
  append_frame(Message::request(42, "transform", as_bytes(text)), frame);

  Decoder decoder(DecodeLimits::data());
  Result<Message> m = decoder.decode_frame(frame);
  REQUIRE(m.ok());
  CHECK(m->is_request());
  CHECK(m->id == 42);
  CHECK(m->method == "transform");
  CHECK(as_chars(m->payload) == text);
  // Zero copy: the payload view points into the frame itself.
  CHECK(m->payload.data() >= frame.data());
  CHECK(m->payload.data() + m->payload.size() <= frame.data() + frame.size());
}

TEST_CASE("append_frame_prefix leaves exactly the payload for the caller to send") {
  ByteBuffer payload(100000, std::byte{0x5a});
  Message m = Message::response(7, payload);
  ByteBuffer prefix;
  const std::size_t follow = append_frame_prefix(m, prefix);
  CHECK(follow == payload.size());
  CHECK(load_u32_le(prefix.data()) == prefix.size() - kFrameHeaderBytes + payload.size());

  ByteBuffer whole;
  append_frame(m, whole);
  ByteBuffer joined = prefix;
  joined.insert(joined.end(), payload.begin(), payload.end());
  CHECK(joined == whole);
}

TEST_CASE("failed responses, shm handles and fds survive a round trip") {
  Message failure = Message::failure(9, Errc::handler_failed, "boom");
  Message by_handle = Message::request(10, "echo");
  by_handle.shm = ShmHandle{3, 1 << 20, 5 << 20, 11};
  by_handle.fds = 1;

  Decoder decoder(DecodeLimits::data());
  for (const Message& original : {failure, by_handle}) {
    ByteBuffer frame;
    append_frame(original, frame);
    Result<Message> m = decoder.decode_frame(frame);
    REQUIRE(m.ok());
    CHECK(m->type == original.type);
    CHECK(m->id == original.id);
    CHECK(m->shm == original.shm);
    CHECK(m->fds == original.fds);
    CHECK(m->error.has_value() == original.error.has_value());
  }
}

TEST_CASE(
    "a header with every field at its widest fits the encoder's bound and follows the frames "
    "before it") {
  const std::string method(kMaxMethodName, 'm');
  const std::string message(5000, 'e');
  const ByteBuffer payload(3, std::byte{0x7f});
  for (MessageType type :
       {MessageType::request, MessageType::response, MessageType::notification}) {
    Message widest;
    widest.type = type;
    widest.version = std::numeric_limits<std::uint32_t>::max();
    widest.id = std::numeric_limits<std::uint64_t>::max();
    widest.method = method;
    widest.error = ErrorView{Errc::handler_failed, message};
    widest.shm = ShmHandle{
        std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::uint64_t>::max(),
        std::numeric_limits<std::uint64_t>::max(), std::numeric_limits<std::uint32_t>::max()};
    widest.fds = std::numeric_limits<std::uint32_t>::max();
    widest.payload = payload;
    ByteBuffer frames;
    append_frame(Message::notification("first"), frames);
    const ByteBuffer first = frames;
    append_frame(widest, frames);
    // The first frame is untouched, and the second one's prefix counts exactly what follows.
    REQUIRE(frames.size() > first.size() + kFrameHeaderBytes);
    CHECK(std::equal(first.begin(), first.end(), frames.begin()));
    CHECK(load_u32_le(frames.data() + first.size()) ==
          frames.size() - first.size() - kFrameHeaderBytes);
    const msgpack::object_handle body = msgpack::unpack(
        reinterpret_cast<const char*>(frames.data() + first.size() + kFrameHeaderBytes),
        frames.size() - first.size() - kFrameHeaderBytes);
    REQUIRE(body.get().type == msgpack::type::MAP);
    CHECK(body.get().via.map.size == (type == MessageType::notification ? 7u
                                      : type == MessageType::response   ? 7u
                                                                        : 8u));
  }
}

TEST_CASE("a frame larger than the maximum is refused from its prefix alone") {
  auto checked = check_frame_length(kDefaultMaxControlFrame + 1, kDefaultMaxControlFrame);
  REQUIRE_FALSE(checked.ok());
  CHECK(checked.error().code == Errc::frame_too_large);
  CHECK(checked.error().message.find("65537") != std::string::npos);
  CHECK(check_frame_length(0, kDefaultMaxControlFrame).error().code == Errc::frame_empty);
  CHECK(*check_frame_length(10, kDefaultMaxControlFrame) == 10u);
}

TEST_CASE("an array header claiming 2^32 elements is refused without allocating them") {
  // 4 bytes that promise ~4 billion elements: unpacking them would need gigabytes.
  const ByteBuffer body{std::byte{0xdd}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                        std::byte{0xff}};
  Decoder decoder;
  Result<Message> m = decoder.decode(body);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().code == Errc::limit_exceeded);
}

TEST_CASE("every error code has a unique stable name and a meaning") {
  std::set<std::string_view> names;
  for (const auto& info : kErrcTable) {
    CHECK(names.insert(info.name).second);
    CHECK_FALSE(info.meaning.empty());
    CHECK(errc_from_name(info.name) == info.code);
  }
  CHECK(errc_name(static_cast<Errc>(999)) == "UNKNOWN_ERROR");
  CHECK(Error(Errc::no_worker, "no worker serves 'x'").to_string() ==
        "NO_WORKER: no worker serves 'x'");
}
