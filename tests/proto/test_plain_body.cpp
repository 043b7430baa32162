// Tests of the decoder's fast path (plain_body.hpp): what every sender writes takes it, and
// for any body, vector or mutated frame, Decoder::decode gives exactly what the general path
// (Decoder::decode_unpacked) gives — the same message, or an error with the same code.
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fastmd/proto/codec.hpp"
#include "vector_file.hpp"

using namespace fastmd::proto;
using fastmd::testing::from_hex;
using fastmd::testing::load_vector_file;

namespace {

ByteView body_of(const ByteBuffer& frame) {
  return ByteView(frame).subspan(kFrameHeaderBytes);
}

// Checks that decode() and decode_unpacked() agree on `body`; true when both decoded it.
bool both_paths_agree(Decoder& decoder, ByteView body) {
  Result<Message> fast = decoder.decode(body);
  const bool fast_ok = fast.ok();
  const Errc fast_code = fast_ok ? Errc::ok : fast.error().code;
  const Message fast_message = fast_ok ? *fast : Message{};
  Result<Message> general = decoder.decode_unpacked(body);
  REQUIRE(fast_ok == general.ok());
  if (!fast_ok) {
    CHECK(errc_name(fast_code) == errc_name(general.error().code));
    return false;
  }
  CHECK(fast_message.version == general->version);
  CHECK(fast_message.type == general->type);
  CHECK(fast_message.id == general->id);
  CHECK(fast_message.method == general->method);
  CHECK(fast_message.fds == general->fds);
  CHECK(fast_message.shm == general->shm);
  // Both view the payload in `body`: the same bytes at the same place.
  CHECK(fast_message.payload.data() == general->payload.data());
  CHECK(fast_message.payload.size() == general->payload.size());
  REQUIRE(fast_message.error.has_value() == general->error.has_value());
  if (fast_message.error) {
    CHECK(fast_message.error->code == general->error->code);
    CHECK(fast_message.error->message == general->error->message);
  }
  return true;
}

// One frame of each shape the SDKs send, every optional field used somewhere.
std::vector<ByteBuffer> frames_senders_write() {
  // Static: a Message views its method and payload, so their bytes must outlive it.
  static const std::string payload(300, 'p');
  static const std::string longest_method(kMaxMethodName, 'm');
  Message by_handle = Message::request(1u << 20, "transform");
  by_handle.shm = ShmHandle{3, 1ull << 40, 5u << 20, 0xffffffffu};
  by_handle.fds = 1;
  Message attached = Message::response(7);
  attached.shm = ShmHandle{kAttachedMemfdSegment, 0, 70000, 2};
  attached.fds = 1;
  std::vector<Message> messages = {
      Message::request(42, "echo", as_bytes(std::string_view(payload).substr(0, 64))),
      Message::request(~0ull, longest_method, as_bytes(payload)),
      Message::response(42, as_bytes(payload)),
      Message::response(0),
      Message::failure(9, Errc::handler_failed, "the handler threw"),
      Message::notification("ipc.load", as_bytes(payload)),
      by_handle,
      attached,
  };
  std::vector<ByteBuffer> frames;
  for (const Message& m : messages) append_frame(m, frames.emplace_back());
  return frames;
}

}  // namespace

TEST_CASE("every frame the SDKs write is read by the fast path") {
  const DecodeLimits limits = DecodeLimits::data();
  for (const ByteBuffer& frame : frames_senders_write()) {
    CHECK(detail::read_plain_body(body_of(frame), limits).has_value());
    Decoder decoder(limits);
    CHECK(both_paths_agree(decoder, body_of(frame)));
  }
}

TEST_CASE("every protocol vector decodes the same by the fast path and the general one") {
  rapidjson::Document valid = load_vector_file("valid.json");
  Decoder data(DecodeLimits::data());
  for (const auto& vector : valid.GetArray()) {
    INFO("vector " << vector["name"].GetString());
    const ByteBuffer frame = from_hex(vector["hex"].GetString());
    CHECK(both_paths_agree(data, body_of(frame)));
  }
  rapidjson::Document invalid = load_vector_file("invalid.json");
  for (const auto& vector : invalid.GetArray()) {
    INFO("vector " << vector["name"].GetString());
    DecodeLimits limits = DecodeLimits::control();
    limits.max_frame = vector["max_frame"].GetUint();
    Decoder decoder(limits);
    const ByteBuffer frame = from_hex(vector["hex"].GetString());
    if (frame.size() >= kFrameHeaderBytes) CHECK_FALSE(both_paths_agree(decoder, body_of(frame)));
  }
}

TEST_CASE("a mutated frame decodes the same by the fast path and the general one") {
  // Single-byte changes, truncations and cut-offs of real frames: every length, tag and key
  // byte of the fast path is hit, and each result is compared with the general path's.
  std::mt19937 random(20261201);
  std::size_t decoded = 0, refused = 0;
  for (const DecodeLimits& limits : {DecodeLimits::data(), DecodeLimits::control()}) {
    Decoder decoder(limits);
    for (const ByteBuffer& frame : frames_senders_write()) {
      const ByteView body = body_of(frame);
      for (int round = 0; round < 3000; ++round) {
        ByteBuffer mutated(body.begin(), body.end());
        const int changes = 1 + static_cast<int>(random() % 3);
        for (int c = 0; c < changes; ++c) {
          mutated[random() % mutated.size()] = static_cast<std::byte>(random() & 0xff);
        }
        if (round % 5 == 0) mutated.resize(random() % mutated.size());
        (both_paths_agree(decoder, mutated) ? decoded : refused) += 1;
      }
    }
  }
  // Both outcomes occur, so both were compared.
  CHECK(decoded > 1000);
  CHECK(refused > 1000);
}

TEST_CASE("bodies outside the plain shape are left to the general path, which decides them") {
  const DecodeLimits limits = DecodeLimits::control();
  auto body = [](std::initializer_list<int> bytes) {
    ByteBuffer out;
    for (int b : bytes) out.push_back(static_cast<std::byte>(b));
    return out;
  };
  // {"version": 1, "type": "notification", "method": "m", "x": 1}: an unknown key, ignored.
  const ByteBuffer unknown_key =
      body({0x84, 0xa7, 'v', 'e', 'r', 's', 'i', 'o',  'n', 0x01, 0xa4, 't', 'y', 'p',
            'e',  0xac, 'n', 'o', 't', 'i', 'f', 'i',  'c', 'a',  't',  'i', 'o', 'n',
            0xa6, 'm',  'e', 't', 'h', 'o', 'd', 0xa1, 'm', 0xa1, 'x',  0x01});
  // The same with the version as a signed int8 (0xd0 0x01), which MessagePack reads as 1.
  const ByteBuffer signed_version =
      body({0x83, 0xa7, 'v', 'e',  'r', 's', 'i', 'o', 'n', 0xd0, 0x01, 0xa4, 't',
            'y',  'p',  'e', 0xac, 'n', 'o', 't', 'i', 'f', 'i',  'c',  'a',  't',
            'i',  'o',  'n', 0xa6, 'm', 'e', 't', 'h', 'o', 'd',  0xa1, 'm'});
  for (const ByteBuffer& accepted : {unknown_key, signed_version}) {
    CHECK_FALSE(detail::read_plain_body(accepted, limits).has_value());
    Decoder decoder(limits);
    CHECK(both_paths_agree(decoder, accepted));
  }

  // Past a limit the fast path declines and the general path refuses with LIMIT_EXCEEDED.
  auto refused_past_a_limit = [](const Message& message, const DecodeLimits& tight) {
    ByteBuffer frame;
    append_frame(message, frame);
    CHECK_FALSE(detail::read_plain_body(body_of(frame), tight).has_value());
    Decoder decoder(tight);
    Result<Message> refused = decoder.decode(body_of(frame));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::limit_exceeded);
  };
  // A failed response under a depth limit of 1: its 'error' map is one level too deep.
  DecodeLimits flat = limits;
  flat.depth = 1;
  refused_past_a_limit(Message::failure(1, Errc::internal, "x"), flat);
  // A method name one byte over the str limit.
  DecodeLimits short_strings = limits;
  short_strings.str = 99;
  const std::string long_method(100, 'm');
  refused_past_a_limit(Message::notification(long_method), short_strings);
}
