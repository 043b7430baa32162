// ipc.load (PROTOCOL.md §3.10) at the daemon: a worker's reports are kept and shown in
// ipc.status; a client or observer that sends one, or a worker that sends a bad one, is
// disconnected with the error the protocol names.
#include <linux/sockios.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <atomic>
#include <thread>

#include "daemon_process.hpp"
#include "peer_checks.hpp"
#include "worker_load_status.hpp"

using namespace fastmd;
using namespace fastmd::test;

namespace {

// A worker that says it reports its load (hello `reports_load`, PROTOCOL.md §3.1).
proto::Hello reporting_worker_hello(const std::string& name) {
  proto::Hello hello = worker_hello({"echo"}, name);
  hello.reports_load = true;
  return hello;
}

void send_load(RawPeer& peer, std::uint32_t in_flight, std::uint64_t served) {
  proto::Load load;
  load.in_flight = in_flight;
  load.served = served;
  peer.send(proto::Message::notification(proto::kLoad, proto::encode_body(load)));
}

// A map of unsigned integers, packed by hand: what a hostile worker sends, which no body
// type of proto/control.hpp would encode.
proto::ByteBuffer uint_map(
    std::initializer_list<std::pair<std::string_view, std::uint64_t>> pairs) {
  proto::ByteBuffer out;
  proto::ByteSink sink{out};
  proto::Packer packer(sink);
  packer.pack_map(static_cast<std::uint32_t>(pairs.size()));
  for (const auto& [key, value] : pairs) {
    proto::pack_str(packer, key);
    packer.pack_uint64(value);
  }
  return out;
}

// Worker `name`'s load, asked by `observer`, once the daemon has taken `reports` of its
// reports (it reads them asynchronously; up to 5 s).
WorkerLoadEntry load_once_taken(RawPeer& observer, const std::string& name, std::uint64_t reports) {
  std::optional<WorkerLoadEntry> load;
  for (int i = 0; i < 500; ++i) {
    load = worker_load(observer.status(), name);
    if (load && load->reports >= reports) break;
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(load);
  REQUIRE(load->reports == reports);
  return *load;
}

}  // namespace

TEST_CASE("a worker that never reported shows as idle with nothing served") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(reporting_worker_hello("quiet")));
  const auto load = worker_load(worker.status(), "quiet");
  REQUIRE(load);
  CHECK(load->in_flight == 0);
  CHECK(load->served == 0);
  CHECK(load->reports == 0);
}

TEST_CASE("a worker whose hello has no reports_load shows no load: unknown, not zero") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  const Received welcome = worker.hello(worker_hello({"echo"}, "older"));
  require_welcome(welcome);
  // The daemon says it takes ipc.load, so a worker that reports knows it may.
  CHECK(welcome.body_as<proto::HelloReply>().accepts_load);
  auto reporting = RawPeer::connect(daemon.socket_path());
  require_welcome(reporting.hello(reporting_worker_hello("newer")));
  const Received status = worker.status();
  CHECK(worker_load(status, "newer").has_value());  // listed with a load, the other without
  CHECK_FALSE(worker_load(status, "older").has_value());
}

TEST_CASE("the daemon keeps a worker's last load, when it came and when it last changed") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(reporting_worker_hello("busy")));
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));

  const auto load_after = [&](std::uint64_t reports) {
    return load_once_taken(observer, "busy", reports);
  };

  send_load(worker, 3, 40);
  WorkerLoadEntry load = load_after(1);
  CHECK(load.in_flight == 3);
  CHECK(load.served == 40);

  // The same values again: a new report, but no change (the change's age goes on).
  std::this_thread::sleep_for(300ms);
  send_load(worker, 3, 40);
  load = load_after(2);
  CHECK(load.changed_ms_ago >= load.reported_ms_ago + 300);

  // served moving is a change even while in_flight stays.
  std::this_thread::sleep_for(300ms);
  send_load(worker, 3, 41);
  load = load_after(3);
  CHECK(load.served == 41);
  CHECK(load.changed_ms_ago == load.reported_ms_ago);

  send_load(worker, 0, 44);
  load = load_after(4);
  CHECK(load.in_flight == 0);
  CHECK(load.served == 44);
}

TEST_CASE("a client or observer that sends ipc.load is disconnected with UNEXPECTED_MESSAGE") {
  DaemonProcess daemon;
  auto peer = RawPeer::connect(daemon.socket_path());
  SECTION("a client") {
    require_welcome(peer.hello(client_hello({})));
  }
  SECTION("an observer") {
    require_welcome(peer.hello(observer_hello()));
  }
  send_load(peer, 1, 1);
  auto answer = peer.receive();
  REQUIRE(answer);
  REQUIRE(answer->message.is_response());
  CHECK(answer->message.id == 0);
  REQUIRE(answer->message.error);
  CHECK(answer->message.error->code == proto::Errc::unexpected_message);
  CHECK(std::string(answer->message.error->message).find("only a worker") != std::string::npos);
  CHECK(peer.wait_closed());

  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  CHECK(wait_for_status(observer, [](const StatusReport& status) {
    return status.number("counters.disconnects_hostile") == 1;
  }));
}

TEST_CASE("a worker whose ipc.load does not decode is disconnected with the decode error") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(worker_hello({"echo"})));
  proto::Errc expected{};
  SECTION("served missing") {
    const proto::ByteBuffer params = uint_map({{"in_flight", 1}});
    worker.send(proto::Message::notification(proto::kLoad, params));
    expected = proto::Errc::missing_field;
  }
  SECTION("in_flight beyond 32 bits") {
    const proto::ByteBuffer params =
        uint_map({{"in_flight", std::uint64_t{1} << 32}, {"served", 0}});
    worker.send(proto::Message::notification(proto::kLoad, params));
    expected = proto::Errc::invalid_field;
  }
  SECTION("params that are not a map") {
    const std::byte nil[] = {std::byte{0xc0}};
    worker.send(proto::Message::notification(proto::kLoad, nil));
    expected = proto::Errc::not_a_map;
  }
  auto answer = worker.receive();
  REQUIRE(answer);
  REQUIRE(answer->message.error);
  CHECK(answer->message.id == 0);
  CHECK(answer->message.error->code == expected);
  CHECK(worker.wait_closed());
}

TEST_CASE("a burst of load reports, all in the socket before the daemon looks, is read whole") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(reporting_worker_hello("flooding")));
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  // About 95 KiB of reports that arrive as one readiness: the session reads 4 KiB at first,
  // frames straddle its reads, and it must read on until the socket is empty, since nothing
  // more from this worker will wake it.
  constexpr std::uint64_t kReports = 1200;
  proto::ByteBuffer burst;
  for (std::uint64_t served = 1; served <= kReports; ++served) {
    proto::Load load;
    load.in_flight = 1;
    load.served = served;
    proto::append_frame(proto::Message::notification(proto::kLoad, proto::encode_body(load)),
                        burst);
  }
  REQUIRE(burst.size() > 16 * 4096);
  REQUIRE(::kill(daemon.pid(), SIGSTOP) == 0);
  std::atomic<bool> sent{false};
  std::thread sender([&] { sent = worker.send_bytes(burst); });
  // Until the kernel holds the whole burst (SIOCOUTQ counts its overhead too; bounded: the
  // daemon is resumed either way).
  int queued = 0;
  for (int i = 0; i < 200 && queued < static_cast<int>(burst.size()); ++i) {
    std::this_thread::sleep_for(10ms);
    if (::ioctl(worker.fd(), SIOCOUTQ, &queued) != 0) break;
  }
  ::kill(daemon.pid(), SIGCONT);
  sender.join();
  REQUIRE(sent);
  CHECK(queued >= static_cast<int>(burst.size()));
  // The worker sends nothing more, so no new readiness comes: asked on another connection.
  CHECK(load_once_taken(observer, "flooding", kReports).served == kReports);
}

TEST_CASE(
    "a worker whose last report and EOF arrive while the daemon is not looking is seen gone") {
  DaemonProcess daemon;
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  {
    auto worker = RawPeer::connect(daemon.socket_path());
    require_welcome(worker.hello(reporting_worker_hello("leaving")));
    REQUIRE(::kill(daemon.pid(), SIGSTOP) == 0);
    send_load(worker, 0, 7);
  }  // closed: the bytes and the EOF wait together, and this process (its pid) lives on
  REQUIRE(::kill(daemon.pid(), SIGCONT) == 0);
  CHECK(wait_for_status(
      observer, [](const StatusReport& status) { return status.number("sessions_total") == 1; }));
}
