// Unit tests of the control bodies: each round-trips, and required keys are enforced; the
// bodies (ipc.want, ipc.hello params and result, ipc.introduce, ipc.load, ipc.peer_draining)
// and METHOD_NOT_FOUND texts of proto/vectors/control.json hold for the C++ code.
#include <catch2/catch.hpp>

#include "fastmd/proto/control.hpp"
#include "vector_file.hpp"

using namespace fastmd::proto;
using fastmd::testing::from_hex;

namespace {

std::string json_str(const rapidjson::Value& v, const char* key) {
  return std::string(v[key].GetString(), v[key].GetStringLength());
}

// Decodes `bytes` as the body `what` names; the error, if any.
std::optional<Error> decode_error(std::string_view what, ByteView bytes) {
  Decoder decoder;
  if (what == Want::kWhat) {
    auto body = decode_body<Want>(decoder, bytes);
    return body ? std::nullopt : std::optional<Error>(body.error());
  }
  if (what == Load::kWhat) {
    auto body = decode_body<Load>(decoder, bytes);
    return body ? std::nullopt : std::optional<Error>(body.error());
  }
  if (what == PeerDraining::kWhat) {
    auto body = decode_body<PeerDraining>(decoder, bytes);
    return body ? std::nullopt : std::optional<Error>(body.error());
  }
  if (what == Hello::kWhat) {
    auto body = decode_body<Hello>(decoder, bytes);
    return body ? std::nullopt : std::optional<Error>(body.error());
  }
  REQUIRE(what == HelloReply::kWhat);
  auto body = decode_body<HelloReply>(decoder, bytes);
  return body ? std::nullopt : std::optional<Error>(body.error());
}

std::string hex_of(const ByteBuffer& bytes) {
  return fastmd::testing::to_hex(bytes.data(), bytes.size());
}

}  // namespace

TEST_CASE("the control bodies of control.json decode to their fields and encode to their bytes") {
  rapidjson::Document doc = fastmd::testing::load_vector_file("control.json");
  REQUIRE(doc["valid"].Size() >= 8);
  for (const auto& vector : doc["valid"].GetArray()) {
    INFO("vector " << json_str(vector, "name"));
    const std::string what = json_str(vector, "what");
    const ByteBuffer bytes = from_hex(vector["hex"].GetString());
    const auto& expected = vector["body"];
    Decoder decoder;
    if (what == Want::kWhat) {
      Result<Want> want = decode_body<Want>(decoder, bytes);
      REQUIRE(want.ok());
      CHECK(want->method == json_str(expected, "method"));
      CHECK(hex_of(encode_body(*want)) == vector["hex"].GetString());
      continue;
    }
    if (what == Load::kWhat) {
      Result<Load> load = decode_body<Load>(decoder, bytes);
      REQUIRE(load.ok());
      CHECK(load->in_flight == expected["in_flight"].GetUint());
      CHECK(load->served == expected["served"].GetUint64());
      if (!vector.HasMember("decode_only")) {
        CHECK(hex_of(encode_body(*load)) == vector["hex"].GetString());
      }
      continue;
    }
    if (what == Hello::kWhat) {
      Result<Hello> hello = decode_body<Hello>(decoder, bytes);
      REQUIRE(hello.ok());
      CHECK(hello->role == Role::worker);
      CHECK(hello->methods.size() == expected["methods"].Size());
      // Absent means false: a worker from before reports_load counts as load unknown.
      CHECK(hello->reports_load == expected.HasMember("reports_load"));
      // Absent means no rings: the peer keeps socket frames (§5.5).
      REQUIRE(hello->rings.has_value() == expected.HasMember("rings"));
      if (hello->rings) CHECK(*hello->rings == expected["rings"].GetUint());
      CHECK(hex_of(encode_body(*hello)) == vector["hex"].GetString());
      continue;
    }
    if (what == Introduce::kWhat) {
      Result<Introduce> intro = decode_body<Introduce>(decoder, bytes);
      REQUIRE(intro.ok());
      CHECK(intro->peer == expected["peer"].GetUint64());
      CHECK(intro->name == json_str(expected, "name"));
      REQUIRE(intro->rings.has_value() == expected.HasMember("rings"));
      if (intro->rings) CHECK(*intro->rings == expected["rings"].GetUint());
      CHECK(hex_of(encode_body(*intro)) == vector["hex"].GetString());
      continue;
    }
    if (what == PeerDraining::kWhat) {
      Result<PeerDraining> draining = decode_body<PeerDraining>(decoder, bytes);
      REQUIRE(draining.ok());
      CHECK(draining->peer == expected["peer"].GetUint64());
      CHECK(hex_of(encode_body(*draining)) == vector["hex"].GetString());
      continue;
    }
    REQUIRE(what == HelloReply::kWhat);
    Result<HelloReply> reply = decode_body<HelloReply>(decoder, bytes);
    REQUIRE(reply.ok());
    CHECK(reply->session == expected["session"].GetUint64());
    CHECK(reply->daemon == json_str(expected, "daemon"));
    CHECK(reply->segment.has_value() == expected.HasMember("segment"));
    if (expected.HasMember("segment")) {
      CHECK(reply->segment->size == expected["segment"]["size"].GetUint64());
    }
    REQUIRE(reply->no_worker_wait_ms.has_value() == expected.HasMember("no_worker_wait_ms"));
    if (reply->no_worker_wait_ms) {
      CHECK(*reply->no_worker_wait_ms == expected["no_worker_wait_ms"].GetUint());
    }
    // Absent (older daemons) means false: the worker then sends no ipc.load.
    CHECK(reply->accepts_load == expected.HasMember("accepts_load"));
    REQUIRE(reply->drain_ms.has_value() == expected.HasMember("drain_ms"));
    if (reply->drain_ms) CHECK(*reply->drain_ms == expected["drain_ms"].GetUint());
    CHECK(hex_of(encode_body(*reply)) == vector["hex"].GetString());
  }
}

TEST_CASE("the invalid control bodies of control.json fail with their documented error") {
  rapidjson::Document doc = fastmd::testing::load_vector_file("control.json");
  REQUIRE(doc["invalid"].Size() >= 17);
  for (const auto& vector : doc["invalid"].GetArray()) {
    const std::string want = json_str(vector, "error");
    INFO("vector " << json_str(vector, "name") << " expects " << want);
    const ByteBuffer bytes = from_hex(vector["hex"].GetString());
    std::optional<Error> error = decode_error(json_str(vector, "what"), bytes);
    REQUIRE(error.has_value());
    CHECK(errc_name(error->code) == want);
    CHECK_FALSE(error->message.empty());
  }
}

TEST_CASE("method_not_found_message gives control.json's text: served sorted, once, or none") {
  rapidjson::Document doc = fastmd::testing::load_vector_file("control.json");
  REQUIRE(doc["method_not_found"].Size() >= 3);
  for (const auto& vector : doc["method_not_found"].GetArray()) {
    std::vector<std::string> served;
    for (const auto& name : vector["served"].GetArray()) served.emplace_back(name.GetString());
    CHECK(method_not_found_message(json_str(vector, "method"), served) ==
          json_str(vector, "message"));
  }
}

TEST_CASE("ipc.hello round-trips with methods and wants") {
  Hello hello;
  hello.role = Role::worker;
  hello.pid = 1234;
  hello.name = "md";
  hello.methods = {{"transform", 4}, {"echo", 1}};
  hello.max_frame = 1 << 20;
  hello.shm = false;

  Decoder decoder;
  Result<Hello> back = decode_body<Hello>(decoder, encode_body(hello));
  REQUIRE(back.ok());
  CHECK(back->role == Role::worker);
  CHECK(back->pid == 1234);
  CHECK(back->name == "md");
  CHECK(back->methods == hello.methods);
  CHECK(back->max_frame == 1u << 20);
  CHECK(back->shm == false);
}

TEST_CASE("ipc.hello without a role, or a worker without methods, is refused") {
  Decoder decoder;
  auto missing = decode_body<Hello>(decoder, encode_body(PeerGone{}));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::missing_field);

  Hello worker;
  worker.role = Role::worker;
  auto empty = decode_body<Hello>(decoder, encode_body(worker));
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::invalid_field);
}

TEST_CASE("ipc.introduce carries the peer's segment") {
  Introduce intro;
  intro.peer = 77;
  intro.role = Role::worker;
  intro.methods = {{"transform", 2}};
  intro.segment = SegmentInfo{4, 8 << 20, 3};
  Decoder decoder;
  Result<Introduce> back = decode_body<Introduce>(decoder, encode_body(intro));
  REQUIRE(back.ok());
  CHECK(back->peer == 77);
  CHECK(back->segment == intro.segment);
  CHECK(back->methods == intro.methods);
}

TEST_CASE("a control body of the wrong MessagePack type is WRONG_FIELD_TYPE") {
  ByteBuffer bytes;
  ByteSink sink{bytes};
  Packer packer(sink);
  packer.pack_map(1);
  pack_str(packer, "peer");
  pack_str(packer, "seventy-seven");
  Decoder decoder;
  auto back = decode_body<Introduce>(decoder, bytes);
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().code == Errc::wrong_field_type);
}
