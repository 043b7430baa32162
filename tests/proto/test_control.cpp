// Unit tests of the control bodies: each round-trips, and required keys are enforced.
#include <catch2/catch.hpp>

#include "fastmd/proto/control.hpp"

using namespace fastmd::proto;

TEST_CASE("ipc.hello round-trips with methods and wants") {
  Hello hello;
  hello.role = Role::worker;
  hello.has_role = true;
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
