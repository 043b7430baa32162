// Checks the C++ codec against proto/vectors/: every valid vector decodes to its message
// and re-encodes byte for byte; every invalid one fails with its documented error; the same
// for the nested control bodies of control.json.
#include <catch2/catch.hpp>

#include "fastmd/proto/codec.hpp"
#include "fastmd/proto/control.hpp"
#include "vector_file.hpp"

using namespace fastmd::proto;
using fastmd::testing::from_hex;

namespace {

rapidjson::Document load_vectors(const char* name) {
  rapidjson::Document doc = fastmd::testing::load_vector_file(name);
  REQUIRE(doc.IsArray());
  return doc;
}

std::string to_hex(ByteView bytes) {
  return fastmd::testing::to_hex(bytes.data(), bytes.size());
}

std::string member_str(const rapidjson::Value& v, const char* key) {
  return v.HasMember(key) ? std::string(v[key].GetString(), v[key].GetStringLength()) : "";
}

// Builds the Message a vector describes; `storage` keeps its payload bytes alive.
Message expected_message(const rapidjson::Value& m, ByteBuffer& storage) {
  Message out;
  out.version = m["version"].GetUint();
  std::string type = member_str(m, "type");
  out.type = type == "request"    ? MessageType::request
             : type == "response" ? MessageType::response
                                  : MessageType::notification;
  if (m.HasMember("id")) out.id = m["id"].GetUint64();
  if (m.HasMember("method")) out.method = m["method"].GetString();
  if (m.HasMember("fds")) out.fds = m["fds"].GetUint();
  if (m.HasMember("error")) {
    out.error = ErrorView{static_cast<Errc>(m["error"]["code"].GetUint()),
                          m["error"]["message"].GetString()};
  }
  if (m.HasMember("shm")) {
    const auto& h = m["shm"];
    out.shm = ShmHandle{h["segment"].GetUint(), h["offset"].GetUint64(), h["length"].GetUint64(),
                        h["generation"].GetUint()};
  }
  for (const char* key : {"params_hex", "result_hex"}) {
    if (m.HasMember(key)) {
      storage = from_hex(m[key].GetString());
      out.payload = storage;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("every valid vector decodes to its message and re-encodes byte for byte") {
  rapidjson::Document doc = load_vectors("valid.json");
  REQUIRE(doc.Size() >= 10);
  Decoder decoder(DecodeLimits::data());
  for (const auto& vector : doc.GetArray()) {
    const std::string name = vector["name"].GetString();
    INFO("vector " << name);
    const ByteBuffer frame = from_hex(vector["hex"].GetString());
    ByteBuffer payload;
    const Message expected = expected_message(vector["message"], payload);

    Result<Message> decoded = decoder.decode_frame(frame);
    REQUIRE(decoded.ok());
    CHECK(decoded->version == expected.version);
    CHECK(decoded->type == expected.type);
    CHECK(decoded->id == expected.id);
    CHECK(decoded->method == expected.method);
    CHECK(decoded->fds == expected.fds);
    CHECK(decoded->shm == expected.shm);
    CHECK(to_hex(decoded->payload) == to_hex(expected.payload));
    REQUIRE(decoded->error.has_value() == expected.error.has_value());
    if (expected.error) {
      CHECK(decoded->error->code == expected.error->code);
      CHECK(decoded->error->message == expected.error->message);
    }

    if (!vector.HasMember("decode_only")) {
      ByteBuffer encoded;
      append_frame(expected, encoded);
      CHECK(to_hex(encoded) == vector["hex"].GetString());
    }
  }
}

TEST_CASE("every invalid vector fails with its documented error") {
  rapidjson::Document doc = load_vectors("invalid.json");
  REQUIRE(doc.Size() >= 20);
  for (const auto& vector : doc.GetArray()) {
    const std::string name = vector["name"].GetString();
    const std::string want = vector["error"].GetString();
    INFO("vector " << name << " expects " << want);
    DecodeLimits limits = DecodeLimits::control();
    limits.max_frame = vector["max_frame"].GetUint();
    Decoder decoder(limits);
    Result<Message> decoded = decoder.decode_frame(from_hex(vector["hex"].GetString()));
    REQUIRE_FALSE(decoded.ok());
    CHECK(errc_name(decoded.error().code) == want);
    CHECK_FALSE(decoded.error().message.empty());
  }
}

namespace {

// The vector's body as an ipc.load.
Load expected_load(const rapidjson::Value& body) {
  Load load;
  load.in_flight = body["in_flight"].GetUint();
  load.served = body["served"].GetUint64();
  load.has_in_flight = load.has_served = true;
  return load;
}

}  // namespace

TEST_CASE(
    "every valid ipc.load body of control.json decodes to its fields and re-encodes byte for "
    "byte") {
  rapidjson::Document doc = fastmd::testing::load_vector_file("control.json");
  REQUIRE(doc["valid"].IsArray());
  Decoder decoder(DecodeLimits::control());
  int checked = 0;
  for (const auto& vector : doc["valid"].GetArray()) {
    INFO("vector " << vector["name"].GetString());
    if (member_str(vector, "what") != Load::kWhat) continue;  // other bodies: test_control.cpp
    ++checked;
    const ByteBuffer params = from_hex(vector["hex"].GetString());
    const Load expected = expected_load(vector["body"]);
    Result<Load> decoded = decode_body<Load>(decoder, params);
    REQUIRE(decoded.ok());
    CHECK(decoded->in_flight == expected.in_flight);
    CHECK(decoded->served == expected.served);
    if (!vector.HasMember("decode_only")) {
      CHECK(to_hex(encode_body(expected)) == vector["hex"].GetString());
    }
  }
  CHECK(checked >= 4);
}

TEST_CASE("every invalid ipc.load body of control.json fails with its documented error") {
  rapidjson::Document doc = fastmd::testing::load_vector_file("control.json");
  REQUIRE(doc["invalid"].IsArray());
  Decoder decoder(DecodeLimits::control());
  int checked = 0;
  for (const auto& vector : doc["invalid"].GetArray()) {
    const std::string want = vector["error"].GetString();
    INFO("vector " << vector["name"].GetString() << " expects " << want);
    if (member_str(vector, "what") != Load::kWhat) continue;  // other bodies: test_control.cpp
    ++checked;
    Result<Load> decoded = decode_body<Load>(decoder, from_hex(vector["hex"].GetString()));
    REQUIRE_FALSE(decoded.ok());
    CHECK(errc_name(decoded.error().code) == want);
    CHECK_FALSE(decoded.error().message.empty());
  }
  CHECK(checked >= 9);
}
