// Load: 200 concurrent sessions, and a connection storm against a low RLIMIT_NOFILE.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon_process.hpp"
#include "peer_checks.hpp"

using namespace fastmd;
using namespace fastmd::test;

TEST_CASE("200 concurrent sessions: one worker introduced to 199 clients") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(worker_hello({"echo"})));

  std::vector<RawPeer> clients;
  for (int i = 0; i < 199; ++i) clients.push_back(RawPeer::connect(daemon.socket_path()));
  // Every hello goes out before any answer is read: the daemon has 200 sessions at once.
  const proto::ByteBuffer params = proto::encode_body(client_hello({"echo"}));
  for (auto& client : clients) client.send(proto::Message::request(1, proto::kHello, params));

  std::vector<platform::UniqueFd> channels;
  for (auto& client : clients) {
    require_welcome(*client.receive());
    auto introduce = client.receive_notification(proto::kIntroduce);
    REQUIRE(introduce);
    REQUIRE(introduce->fds.size() == 1);
    channels.push_back(std::move(introduce->fds[0]));
  }
  std::vector<platform::UniqueFd> worker_ends;
  for (int i = 0; i < 199; ++i) {
    auto introduce = worker.receive_notification(proto::kIntroduce);
    REQUIRE(introduce);
    REQUIRE(introduce->fds.size() == 1);
    worker_ends.push_back(std::move(introduce->fds[0]));
  }
  StatusReport status(worker.status());
  CHECK(status.number("sessions_total") == 200);
  CHECK(status.number("counters.introductions") == 199);

  // Every channel is a working pair: a byte written on each client end arrives at the worker.
  for (auto& channel : channels) REQUIRE(::send(channel.get(), "x", 1, MSG_NOSIGNAL) == 1);
  std::size_t arrived = 0;
  for (auto& end : worker_ends) {
    pollfd readable{end.get(), POLLIN, 0};
    char byte = 0;
    if (::poll(&readable, 1, 5000) == 1 && ::recv(end.get(), &byte, 1, 0) == 1 && byte == 'x') {
      ++arrived;
    }
  }
  CHECK(arrived == 199);

  clients.clear();
  worker = RawPeer::connect(daemon.socket_path());
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  CHECK(wait_for_status(observer,
                        [](const StatusReport& s) { return s.number("sessions_total") == 2; }));
}

TEST_CASE("with RLIMIT_NOFILE low, a connection storm is survived and service goes on") {
  DaemonProcess daemon({"--handshake-timeout-ms", "60000"});
  // Count once the daemon is surely idle: after a round trip of a session that stays.
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  StatusReport(observer.status());
  const std::size_t baseline = daemon.open_fds();
  daemon.set_fd_limit(64);

  // Far more connections than the daemon has fds: the excess is accepted and closed at once.
  std::vector<RawPeer> storm;
  for (int i = 0; i < 300; ++i) storm.push_back(RawPeer::connect(daemon.socket_path()));
  REQUIRE(daemon.wait_for_log("out of file descriptors"));
  std::size_t dropped = 0;
  for (auto& peer : storm) {
    if (peer.wait_closed(1ms)) ++dropped;
  }
  CHECK(dropped > 0);
  storm.clear();
  CHECK(daemon.wait_open_fds(baseline) == baseline);

  // Still serving: a worker and a client meet as usual.
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(worker_hello({"echo"})));
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({"echo"})));
  CHECK(client.receive_notification(proto::kIntroduce));
  StatusReport status(client.status());
  CHECK(status.number("counters.dropped_for_emfile") == dropped);
}
