// Hostile peers: each is disconnected with one log line naming its pid and the reason, the
// daemon's fd count returns to what it was, and other sessions go on.
#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include "daemon_process.hpp"
#include "peer_checks.hpp"
#include "reported_pid.hpp"

using namespace fastmd;
using namespace fastmd::test;

namespace {

proto::ByteBuffer bytes_of(std::initializer_list<std::uint8_t> values) {
  proto::ByteBuffer out;
  for (auto v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

proto::ByteBuffer frame_of(const proto::Message& message) {
  proto::ByteBuffer out;
  proto::append_frame(message, out);
  return out;
}

// ipc.draining (params: an empty map) from a session that is not a worker: the daemon answers
// UNEXPECTED_MESSAGE with id 0 (PROTOCOL.md §3.5) before it closes the session.
void send_draining_and_expect_refusal(RawPeer& peer) {
  peer.send(proto::Message::notification(proto::kDraining, bytes_of({0x80})));
  auto answer = peer.receive();
  REQUIRE(answer);
  CHECK(answer->message.id == 0);
  REQUIRE(answer->message.error);
  CHECK(answer->message.error->code == proto::Errc::unexpected_message);
}

}  // namespace

TEST_CASE("hostile peers are disconnected without leaking fds or disturbing others") {
  DaemonProcess daemon({"--handshake-timeout-ms", "300"});
  auto bystander = RawPeer::connect(daemon.socket_path());
  require_welcome(bystander.hello(observer_hello()));
  // Let the bystander's session settle (its pidfd is open), then count.
  StatusReport(bystander.status());
  const std::size_t baseline = daemon.open_fds();

  auto hostile = RawPeer::connect(daemon.socket_path());
  std::string reason;
  SECTION("garbage bytes") {
    hostile.send_bytes(bytes_of({4, 0, 0, 0, 0xc1, 0xc1, 0xc1, 0xc1}));
    reason = "MALFORMED";
  }
  SECTION("a length prefix beyond the maximum") {
    hostile.send_bytes(bytes_of({0xff, 0xff, 0xff, 0x7f}));
    reason = "FRAME_TOO_LARGE";
  }
  SECTION("an empty frame") {
    hostile.send_bytes(bytes_of({0, 0, 0, 0}));
    reason = "FRAME_EMPTY";
  }
  SECTION("a valid frame of the wrong type for the state: status before hello") {
    hostile.send(proto::Message::request(1, proto::kStatus));
    reason = "UNEXPECTED_MESSAGE";
  }
  SECTION("a valid frame of the wrong type for the state: a notification after hello") {
    require_welcome(hostile.hello(client_hello({})));
    hostile.send(proto::Message::notification(proto::kCancel));
    reason = "UNEXPECTED_MESSAGE";
  }
  SECTION("ipc.draining from a client: only a worker drains") {
    require_welcome(hostile.hello(client_hello({})));
    send_draining_and_expect_refusal(hostile);
    reason = "UNEXPECTED_MESSAGE";
  }
  SECTION("ipc.draining from an observer: only a worker drains") {
    require_welcome(hostile.hello(observer_hello()));
    send_draining_and_expect_refusal(hostile);
    reason = "UNEXPECTED_MESSAGE";
  }
  SECTION("fds attached to a frame that takes none") {
    platform::UniqueFd attached(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int fds[] = {attached.get(), attached.get()};
    const proto::ByteBuffer params = proto::encode_body(client_hello({}));
    hostile.send_bytes(frame_of(proto::Message::request(1, proto::kHello, params)), fds);
    reason = "attached fds to a frame that takes none";
  }
  SECTION("a frame announcing fds that never came") {
    const proto::ByteBuffer params = proto::encode_body(client_hello({}));
    proto::Message hello = proto::Message::request(1, proto::kHello, params);
    hello.fds = 1;
    hostile.send(hello);
    reason = "FD_MISMATCH";
  }
  SECTION("a handshake never finished") {
    const proto::ByteBuffer params = proto::encode_body(client_hello({}));
    const proto::ByteBuffer frame = frame_of(proto::Message::request(1, proto::kHello, params));
    hostile.send_bytes(proto::ByteView(frame).first(frame.size() / 2));
    reason = "HANDSHAKE_TIMEOUT";
  }

  CHECK(hostile.wait_closed());
  CHECK(daemon.wait_for_log("disconnected hostile peer session"));
  const std::string log = daemon.log();
  const auto line_start = log.find("disconnected hostile peer");
  const std::string line = log.substr(line_start, log.find('\n', line_start) - line_start);
  INFO("log line: " << line);
  CHECK(line.find("pid " + std::to_string(reported_pid(::getpid()))) != std::string::npos);
  CHECK(line.find(reason) != std::string::npos);

  CHECK(daemon.wait_open_fds(baseline) == baseline);
  StatusReport status(bystander.status());
  CHECK(status.number("counters.disconnects_hostile") == 1);
  CHECK(status.number("sessions_total") == 1);
}

TEST_CASE("a peer that does not read is disconnected while others go on") {
  DaemonProcess daemon({"--max-queued-bytes-per-session", "16384"});
  auto bystander = RawPeer::connect(daemon.socket_path());
  require_welcome(bystander.hello(observer_hello()));

  auto sluggard = RawPeer::connect(daemon.socket_path());
  require_welcome(sluggard.hello(observer_hello()));
  // Ask for status reports without reading one: the kernel buffer fills, then the daemon's
  // queue; past its limit the daemon gives up on this peer.
  proto::ByteBuffer requests;
  for (std::uint64_t id = 2; id < 2002; ++id) {
    proto::append_frame(proto::Message::request(id, proto::kStatus), requests);
  }
  bool disconnected = false;
  for (int round = 0; round < 200 && !disconnected; ++round) {
    disconnected =
        !sluggard.send_bytes(requests) || daemon.wait_for_log("disconnected slow peer", 0ms);
  }
  REQUIRE(daemon.wait_for_log("disconnected slow peer session 2"));
  CHECK(daemon.log().find("pid " + std::to_string(reported_pid(::getpid()))) != std::string::npos);

  StatusReport status(bystander.status());
  CHECK(status.number("counters.disconnects_slow") == 1);
  CHECK(status.number("sessions_total") == 1);
  auto newcomer = RawPeer::connect(daemon.socket_path());
  require_welcome(newcomer.hello(client_hello({})));
}

namespace {

// What the status report lists as queued for session `id`; nullopt when it is not listed.
std::optional<std::uint64_t> queued_bytes_of(const StatusReport& report, std::uint64_t id) {
  const msgpack::object* sessions = report.find("sessions");
  REQUIRE(sessions != nullptr);
  REQUIRE(sessions->type == msgpack::type::ARRAY);
  for (std::uint32_t i = 0; i < sessions->via.array.size; ++i) {
    std::optional<std::uint64_t> session, queued;
    const msgpack::object& entry = sessions->via.array.ptr[i];
    for (std::uint32_t k = 0; k < entry.via.map.size; ++k) {
      const auto& kv = entry.via.map.ptr[k];
      const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
      if (key == "session") session = kv.val.via.u64;
      if (key == "queued_bytes") queued = kv.val.via.u64;
    }
    if (session == id) return queued;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("peers of one uid that do not read are cut off at the uid's limit, not each at its own") {
  // Each session may queue 24 KiB, the uid 32 KiB in all: a second sluggard of the same uid
  // reaches the uid's limit first.
  DaemonProcess daemon(
      {"--max-queued-bytes-per-session", "24576", "--max-queued-bytes-per-uid", "32768"});
  auto bystander = RawPeer::connect(daemon.socket_path());
  require_welcome(bystander.hello(observer_hello()));
  auto first = RawPeer::connect(daemon.socket_path());
  const std::uint64_t first_id = require_welcome(first.hello(observer_hello()));
  auto second = RawPeer::connect(daemon.socket_path());
  const std::uint64_t second_id = require_welcome(second.hello(observer_hello()));

  // The first asks for status reports, one at a time and reading none, until the daemon holds
  // more than half the uid's limit for it (the kernel's buffer fills first).
  std::uint64_t first_queued = 0;
  for (std::uint64_t id = 2; id < 20000 && first_queued < 16384; ++id) {
    proto::ByteBuffer request;
    proto::append_frame(proto::Message::request(id, proto::kStatus), request);
    REQUIRE(first.send_bytes(request));
    const auto queued = queued_bytes_of(StatusReport(bystander.status()), first_id);
    REQUIRE(queued.has_value());  // still connected: below its own limit
    first_queued = *queued;
  }
  REQUIRE(first_queued >= 16384);
  REQUIRE(first_queued < 24576);

  // The second does the same in bulk: it is cut off for the uid's limit, long before its own.
  proto::ByteBuffer requests;
  for (std::uint64_t id = 2; id < 202; ++id) {
    proto::append_frame(proto::Message::request(id, proto::kStatus), requests);
  }
  const std::string cut_off = "disconnected slow peer session " + std::to_string(second_id);
  for (int round = 0; round < 200 && !daemon.wait_for_log(cut_off, 0ms); ++round) {
    if (!second.send_bytes(requests)) break;
  }
  REQUIRE(daemon.wait_for_log(cut_off));
  CHECK(daemon.log().find("its uid's queued bytes reached the per-uid limit") != std::string::npos);

  // The first is still there with its queue; the bystander was served throughout.
  const StatusReport status(bystander.status());
  CHECK(queued_bytes_of(status, first_id).has_value());
  CHECK_FALSE(queued_bytes_of(status, second_id).has_value());
  CHECK(status.number("counters.disconnects_slow") == 1);
}

TEST_CASE("peers with long names and many methods cannot push ipc.status past one frame") {
  DaemonProcess daemon;
  // Three workers whose hellos are each ~45 KiB: listed whole, the report would be ~135 KiB.
  std::vector<RawPeer> workers;
  for (int w = 0; w < 3; ++w) {
    std::vector<std::string> methods;
    for (int m = 0; m < 300; ++m) {
      methods.push_back(std::to_string(w) + "-" + std::to_string(m) + "-" + std::string(110, 'm'));
    }
    workers.push_back(RawPeer::connect(daemon.socket_path()));
    require_welcome(workers.back().hello(worker_hello(methods, std::string(1000, 'n'))));
  }
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));

  // The reply arrives as one valid control frame: RawPeer reads with the 64 KiB limit.
  auto reply = observer.status();
  CHECK(reply.body.size() <= proto::kDefaultMaxControlFrame);
  StatusReport report(reply);
  CHECK(report.number("sessions_total") == 4);
  const msgpack::object* listed = report.find("sessions");
  REQUIRE(listed != nullptr);
  REQUIRE(listed->type == msgpack::type::ARRAY);
  CHECK(listed->via.array.size >= 1);
  CHECK(listed->via.array.size < 4);
  // The daemon goes on: the observer may ask again.
  CHECK(StatusReport(observer.status()).number("sessions_total") == 4);
}
