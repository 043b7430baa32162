// The NDJSON codec (fastmd/proto/ndjson.hpp) against proto/vectors/ndjson.json, and on what
// the vectors cannot hold: 10 MiB payloads full of escapes, non-UTF-8 payloads, limits.
#include <catch2/catch.hpp>

#include <random>

#include "fastmd/proto/ndjson.hpp"
#include "vector_file.hpp"

namespace {

using namespace fastmd::proto;

rapidjson::Document load_vectors() {
  return fastmd::testing::load_vector_file("ndjson.json");
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::string line_of(const Message& m) {
  ndjson::Encoder encoder;
  ndjson::LineBuffer buffer;
  encoder.append_line(m, buffer);
  return {buffer.GetString(), buffer.GetSize()};
}

Result<Message> decode(ndjson::Decoder& decoder, std::string& line) {
  return decoder.decode(line);
}

// The expected message of a vector; `payload` keeps its bytes.
Message expected_message(const rapidjson::Value& v, std::string& payload) {
  Message m;
  m.version = v["version"].GetUint();
  const std::string_view type = v["type"].GetString();
  m.type = type == "request"    ? MessageType::request
           : type == "response" ? MessageType::response
                                : MessageType::notification;
  if (v.HasMember("id")) m.id = v["id"].GetUint64();
  if (v.HasMember("method")) m.method = v["method"].GetString();
  if (v.HasMember("error")) {
    m.error = ErrorView{static_cast<Errc>(v["error"]["code"].GetUint()),
                        v["error"]["message"].GetString()};
  }
  for (const char* key : {"params_hex", "result_hex"}) {
    if (v.HasMember(key)) payload = from_hex(v[key].GetString());
  }
  m.payload = as_bytes(payload);
  return m;
}

void check_same(const Message& got, const Message& want) {
  CHECK(got.version == want.version);
  CHECK(got.type == want.type);
  CHECK(got.id == want.id);
  CHECK(got.method == want.method);
  REQUIRE(got.error.has_value() == want.error.has_value());
  if (want.error) {
    CHECK(got.error->code == want.error->code);
    CHECK(got.error->message == want.error->message);
  }
  CHECK(as_chars(got.payload) == as_chars(want.payload));
}

}  // namespace

TEST_CASE("valid NDJSON vectors decode to their message, and encode to their line") {
  rapidjson::Document doc = load_vectors();
  ndjson::Decoder decoder;
  for (const auto& vector : doc["valid"].GetArray()) {
    const std::string name = vector["name"].GetString();
    INFO(name);
    std::string payload;
    const Message want = expected_message(vector["message"], payload);
    std::string line = vector["line"].GetString();
    const std::string original = line;
    auto got = decode(decoder, line);
    REQUIRE(got.ok());
    check_same(*got, want);
    if (!vector.HasMember("decode_only")) CHECK(line_of(want) == original + "\n");
  }
}

TEST_CASE("invalid NDJSON vectors fail with their error, and name the request to answer") {
  rapidjson::Document doc = load_vectors();
  ndjson::Decoder decoder;
  for (const auto& vector : doc["invalid"].GetArray()) {
    const std::string name = vector["name"].GetString();
    INFO(name);
    std::string line = vector.HasMember("line") ? std::string(vector["line"].GetString())
                                                : from_hex(vector["line_hex"].GetString());
    auto got = decode(decoder, line);
    REQUIRE_FALSE(got.ok());
    CHECK(errc_name(got.error().code) == vector["error"].GetString());
    if (vector.HasMember("answer_id")) {
      CHECK(decoder.failed_request_id() == vector["answer_id"].GetUint64());
    } else {
      CHECK_FALSE(decoder.failed_request_id().has_value());
    }
  }
}

TEST_CASE("a 10 MiB payload full of escapes and multi-byte characters survives a round trip") {
  std::string payload;
  payload.reserve(10 << 20);
  const std::string_view pieces[] = {"plain text ",  "\"quoted\" ",
                                     "back\\slash ", "new\nline ",
                                     "tab\t ",       "\x01\x1f ",
                                     "caf\xc3\xa9 ", "\xf0\x9f\x98\x80 ",
                                     "</script> ",   std::string_view("nul\0 ", 5)};
  for (std::size_t i = 0; payload.size() < (10u << 20); ++i)
    payload += pieces[i % std::size(pieces)];
  REQUIRE(ndjson::is_valid_utf8(as_bytes(payload)));

  for (const Message& m : {Message::request(42, "echo", as_bytes(payload)),
                           Message::response(42, as_bytes(payload))}) {
    std::string line = line_of(m);
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);  // no raw newline inside
    CHECK(line.find("_base64") == std::string::npos);
    line.pop_back();
    ndjson::Decoder decoder;
    auto got = decoder.decode(line);
    REQUIRE(got.ok());
    CHECK(got->id == 42);
    CHECK(got->payload.size() == payload.size());
    CHECK(as_chars(got->payload) == payload);
  }
}

TEST_CASE("payloads that are not UTF-8 travel as base64, byte for byte") {
  std::mt19937 random(7);
  std::string binary(1 << 20, '\0');
  for (auto& byte : binary) byte = static_cast<char>(random());
  const std::string cases[] = {
      binary,
      "caf\xe9",               // Latin-1
      "\xc0\xaf",              // overlong '/'
      "\xed\xa0\x80",          // a UTF-16 surrogate
      "\xf4\x90\x80\x80",      // beyond U+10FFFF
      "\xe2\x82",              // truncated sequence
      std::string(1, '\x80'),  // lone continuation byte
  };
  for (const std::string& payload : cases) {
    INFO("payload of " << payload.size() << " bytes");
    CHECK_FALSE(ndjson::is_valid_utf8(as_bytes(payload)));
    std::string line = line_of(Message::request(1, "echo", as_bytes(payload)));
    CHECK(line.find("\"params_base64\":\"") != std::string::npos);
    line.pop_back();
    ndjson::Decoder decoder;
    auto got = decoder.decode(line);
    REQUIRE(got.ok());
    CHECK(as_chars(got->payload) == payload);
  }
  for (const std::string_view text :
       {"", "ascii", "\xf0\x9f\x98\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    CHECK(ndjson::is_valid_utf8(as_bytes(text)));
  }
}

TEST_CASE("NDJSON lines are held to the same limits as frames") {
  ndjson::Decoder small(100);
  std::string long_line = R"({"version":1,"type":"request","id":1,"method":"echo","params":")" +
                          std::string(100, 'x') + "\"}";
  auto too_long = small.decode(long_line);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().code == Errc::frame_too_large);

  ndjson::Decoder decoder;
  std::string big_method =
      R"({"version":1,"type":"request","id":1,"method":")" + std::string(70000, 'm') + "\"}";
  auto method = decoder.decode(big_method);
  REQUIRE_FALSE(method.ok());
  CHECK(method.error().code == Errc::limit_exceeded);

  std::string many_keys = R"({"version":1,"type":"request","id":1,"method":"echo","x":{)";
  for (int i = 0; i < 70; ++i) many_keys += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  many_keys += "}}";
  auto keys = decoder.decode(many_keys);
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.error().code == Errc::limit_exceeded);

  std::string big_array = R"({"version":1,"type":"request","id":1,"method":"echo","x":[)";
  for (int i = 0; i < 1100; ++i) big_array += i ? ",0" : "0";
  big_array += "]}";
  auto array = decoder.decode(big_array);
  REQUIRE_FALSE(array.ok());
  CHECK(array.error().code == Errc::limit_exceeded);

  // A NUL byte ends RapidJSON's input; what follows it must not be silently dropped.
  std::string with_nul = R"({"version":1,"type":"request","id":1,"method":"echo"})";
  with_nul += std::string("\0{}", 3);
  auto nul = decoder.decode(with_nul);
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.error().code == Errc::trailing_bytes);
}

TEST_CASE("ipc.cancel carries {\"id\":N} as its payload") {
  const std::string params = ndjson::cancel_params(18446744073709551615ull);
  CHECK(params == R"({"id":18446744073709551615})");
  auto id = ndjson::decode_cancel_params(as_bytes(params));
  REQUIRE(id.ok());
  CHECK(*id == 18446744073709551615ull);
  CHECK(ndjson::decode_cancel_params(as_bytes(R"({"id":"3"})")).error().code ==
        Errc::wrong_field_type);
  CHECK(ndjson::decode_cancel_params(as_bytes(R"({"other":3})")).error().code ==
        Errc::missing_field);
  CHECK(ndjson::decode_cancel_params(as_bytes("3")).error().code == Errc::malformed);
}
