// Unit tests of FrameReader: frames split at every byte boundary, several frames in one
// read, and oversize prefixes refused before their bodies are buffered.
#include <cstring>

#include <catch2/catch.hpp>

#include "fastmd/proto/frame_reader.hpp"

using namespace fastmd::proto;

namespace {

void feed(FrameReader& reader, ByteView bytes) {
  auto space = reader.writable(bytes.size());
  REQUIRE(space.size() >= bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  reader.commit(bytes.size());
}

ByteBuffer frames_of(int count) {
  ByteBuffer stream;
  for (int i = 0; i < count; ++i) {
    std::string payload(static_cast<std::size_t>(i * 37), 'a' + static_cast<char>(i % 26));
    append_frame(Message::request(static_cast<std::uint64_t>(i + 1), "echo", as_bytes(payload)),
                 stream);
  }
  return stream;
}

}  // namespace

TEST_CASE("frames arriving one byte at a time are reassembled in order") {
  const ByteBuffer stream = frames_of(20);
  FrameReader reader(kDefaultMaxDataFrame, 16);
  Decoder decoder(DecodeLimits::data());
  std::uint64_t next_id = 1;
  for (std::byte b : stream) {
    feed(reader, ByteView(&b, 1));
    for (;;) {
      auto frame = reader.next();
      REQUIRE(frame.ok());
      if (!frame->has_value()) break;
      Result<Message> m = decoder.decode(**frame);
      REQUIRE(m.ok());
      CHECK(m->id == next_id);
      CHECK(m->payload.size() == (next_id - 1) * 37);
      ++next_id;
    }
  }
  CHECK(next_id == 21);
  CHECK(reader.buffered() == 0);
}

TEST_CASE("many frames delivered in one read all come out") {
  const ByteBuffer stream = frames_of(100);
  FrameReader reader(kDefaultMaxDataFrame);
  feed(reader, stream);
  int count = 0;
  for (;;) {
    auto frame = reader.next();
    REQUIRE(frame.ok());
    if (!frame->has_value()) break;
    ++count;
  }
  CHECK(count == 100);
}

TEST_CASE("an oversize length prefix is an error as soon as its 4 bytes arrive") {
  FrameReader reader(1024);
  std::byte prefix[4];
  store_u32_le(prefix, 1 << 30);
  feed(reader, prefix);
  CHECK_FALSE(reader.ends_mid_frame());  // no body is worth waiting for
  auto frame = reader.next();
  REQUIRE_FALSE(frame.ok());
  CHECK(frame.error().code == Errc::frame_too_large);
}

TEST_CASE("a frame is known to be still arriving until its last byte is in") {
  const ByteBuffer stream = frames_of(3);
  FrameReader reader(kDefaultMaxDataFrame);
  CHECK_FALSE(reader.ends_mid_frame());
  feed(reader, ByteView(stream.data(), 2));  // half a length prefix
  CHECK(reader.ends_mid_frame());
  feed(reader, ByteView(stream.data() + 2, stream.size() - 3));
  CHECK(reader.ends_mid_frame());
  feed(reader, ByteView(stream.data() + stream.size() - 1, 1));
  CHECK_FALSE(reader.ends_mid_frame());
  while (reader.next()->has_value()) {
  }
  CHECK_FALSE(reader.ends_mid_frame());
}

TEST_CASE(
    "a buffer grown for large frames is kept while they come and given back after small ones") {
  constexpr std::size_t kSmall = 4096;
  FrameReader reader(kDefaultMaxDataFrame, kSmall);
  const std::string large_payload(1024 * 1024, 'x');
  ByteBuffer large, small;
  append_frame(Message::request(1, "echo", as_bytes(large_payload)), large);
  append_frame(Message::request(2, "echo", as_bytes(std::string_view("hi"))), small);
  // Returns the capacity the frame found, after the shrink_to() a receive makes first.
  const auto take = [&](const ByteBuffer& frame) {
    reader.shrink_to(kSmall);
    const std::size_t found = reader.capacity();
    for (std::size_t at = 0; at < frame.size(); at += kSmall) {
      feed(reader, ByteView(frame.data() + at, std::min(kSmall, frame.size() - at)));
    }
    auto body = reader.next();
    REQUIRE(body.ok());
    REQUIRE(body->has_value());
    return found;
  };

  CHECK(take(large) == kSmall);
  const std::size_t grown = reader.capacity();
  CHECK(grown >= large.size());
  for (int i = 0; i < 3; ++i) {
    CHECK(take(large) == grown);  // kept, not given back and grown again for every frame
  }
  // The first look after a large frame sees it; the run of small looks starts after that.
  for (int i = 0; i < FrameReader::kSmallLooksBeforeShrink; ++i) CHECK(take(small) == grown);
  CHECK(take(small) == kSmall);
}
