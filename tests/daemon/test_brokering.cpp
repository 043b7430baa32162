// Brokering: introductions over a passed socketpair, late workers, worker death, no worker.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <thread>

#include "daemon_process.hpp"
#include "peer_checks.hpp"

using namespace fastmd;
using namespace fastmd::test;

namespace {

// Writes `text` on one end of a direct channel and reads it on the other, bounded.
std::string carry(int from, int to, const std::string& text) {
  REQUIRE(::send(from, text.data(), text.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(text.size()));
  std::string got;
  while (got.size() < text.size()) {
    pollfd readable{to, POLLIN, 0};
    REQUIRE(::poll(&readable, 1, 5000) == 1);
    char buffer[256];
    const ssize_t n = ::recv(to, buffer, sizeof(buffer), 0);
    REQUIRE(n > 0);
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

// Receives the ipc.introduce a peer gets, with its direct channel fd.
std::pair<proto::Introduce, platform::UniqueFd> introduction(RawPeer& peer) {
  auto frame = peer.receive_notification(proto::kIntroduce);
  REQUIRE(frame);
  REQUIRE(frame->message.fds == 1);
  REQUIRE(frame->fds.size() == 1);
  return {frame->body_as<proto::Introduce>(), std::move(frame->fds[0])};
}

}  // namespace

TEST_CASE("a client and a worker are introduced over a socketpair that carries bytes both ways") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  auto client = RawPeer::connect(daemon.socket_path());
  proto::Hello worker_greeting = worker_hello({"transform", "echo"}, "md-worker");
  worker_greeting.methods[0].concurrency = 4;
  worker_greeting.max_frame = 1 << 20;
  const auto worker_session = require_welcome(worker.hello(worker_greeting));
  const auto client_session = require_welcome(client.hello(client_hello({"transform"}, "app")));

  auto [about_worker, client_end] = introduction(client);
  auto [about_client, worker_end] = introduction(worker);
  CHECK(about_worker.peer == worker_session);
  CHECK(about_worker.role == proto::Role::worker);
  // The credentials' pid, or without one (posix) the pid the hello claims: ours either way.
  CHECK(about_worker.pid == static_cast<std::uint32_t>(::getpid()));
  CHECK(about_worker.name == "md-worker");
  REQUIRE(about_worker.methods.size() == 2);
  CHECK(about_worker.methods[0] == proto::MethodSpec{"transform", 4});
  CHECK(about_worker.max_frame == 1u << 20);
  CHECK(about_client.peer == client_session);
  CHECK(about_client.role == proto::Role::client);
  CHECK(about_client.name == "app");

  // The daemon is out of the data path: close both control connections first.
  client = RawPeer::connect(daemon.socket_path());
  worker = RawPeer::connect(daemon.socket_path());
  CHECK(carry(client_end.get(), worker_end.get(), "# request\n") == "# request\n");
  CHECK(carry(worker_end.get(), client_end.get(), "<h1>response</h1>\n") == "<h1>response</h1>\n");
}

TEST_CASE("a client is introduced only to workers serving what it wants") {
  DaemonProcess daemon;
  auto md = RawPeer::connect(daemon.socket_path());
  auto other = RawPeer::connect(daemon.socket_path());
  require_welcome(md.hello(worker_hello({"transform"}, "md")));
  require_welcome(other.hello(worker_hello({"resize"}, "images")));
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({"transform"})));
  CHECK(introduction(client).first.name == "md");
  CHECK_FALSE(client.receive_notification(proto::kIntroduce, 300ms));
  CHECK_FALSE(other.receive_notification(proto::kIntroduce, 10ms));

  // Wanting nothing in particular means every method.
  auto greedy = RawPeer::connect(daemon.socket_path());
  require_welcome(greedy.hello(client_hello({})));
  std::set<std::string> names{introduction(greedy).first.name, introduction(greedy).first.name};
  CHECK(names == std::set<std::string>{"md", "images"});
}

TEST_CASE("a worker that joins later is introduced to the waiting client") {
  DaemonProcess daemon({"--no-worker-wait-ms", "10000"});
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({"transform"})));
  auto waiting = client.receive_notification(proto::kNoWorker);
  REQUIRE(waiting);
  const auto notice = waiting->body_as<proto::NoWorker>();
  CHECK(notice.method == "transform");
  CHECK(notice.wait_ms == 10000);

  auto worker = RawPeer::connect(daemon.socket_path());
  const auto worker_session = require_welcome(worker.hello(worker_hello({"transform"})));
  auto [about_worker, client_end] = introduction(client);
  CHECK(about_worker.peer == worker_session);
  auto [about_client, worker_end] = introduction(worker);
  CHECK(carry(client_end.get(), worker_end.get(), "late") == "late");
}

TEST_CASE("no worker: the client is told at once, and again with wait_ms 0 when the wait ends") {
  DaemonProcess daemon({"--no-worker-wait-ms", "300"});
  auto client = RawPeer::connect(daemon.socket_path());
  const auto start = std::chrono::steady_clock::now();
  require_welcome(client.hello(client_hello({"transform"})));
  auto first = client.receive_notification(proto::kNoWorker);
  REQUIRE(first);
  CHECK(first->body_as<proto::NoWorker>().wait_ms == 300);
  auto last = client.receive_notification(proto::kNoWorker, 5s);
  REQUIRE(last);
  CHECK(std::chrono::steady_clock::now() - start >= 250ms);
  CHECK(last->body_as<proto::NoWorker>().method == "transform");
  CHECK(last->body_as<proto::NoWorker>().wait_ms == 0);
}

TEST_CASE("a worker's end is announced to the clients it was introduced to") {
  DaemonProcess daemon;
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({"transform"})));

  SECTION("it closes its connection") {
    auto worker = RawPeer::connect(daemon.socket_path());
    const auto worker_session = require_welcome(worker.hello(worker_hello({"transform"})));
    introduction(client);
    worker = RawPeer::connect(daemon.socket_path());  // the old connection closes
    auto gone = client.receive_notification(proto::kPeerGone);
    REQUIRE(gone);
    CHECK(gone->body_as<proto::PeerGone>().peer == worker_session);
  }
  SECTION("its process is killed") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      try {
        auto worker = RawPeer::connect(daemon.socket_path());
        worker.hello(worker_hello({"transform"}));
        ::pause();
      } catch (...) {
      }
      _exit(1);
    }
    auto [about_worker, channel] = introduction(client);
    CHECK(about_worker.pid == static_cast<std::uint32_t>(child));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    auto gone = client.receive_notification(proto::kPeerGone);
    REQUIRE(gone);
    CHECK(gone->body_as<proto::PeerGone>().peer == about_worker.peer);
    // The client also learns that nobody serves its method any more.
    CHECK(client.receive_notification(proto::kNoWorker));
  }
}

TEST_CASE(
    "idle clients cannot starve a new one: it is told at once and introduced when one leaves") {
  // A worker with room for two introductions, taken by two clients that never call.
  DaemonProcess daemon({"--max-introductions-per-session", "2", "--no-worker-wait-ms", "60000"});
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  StatusReport(observer.status());  // the daemon has settled; count from here
  const std::size_t baseline_fds = daemon.open_fds();
  {
    auto worker = RawPeer::connect(daemon.socket_path());
    const auto worker_session = require_welcome(worker.hello(worker_hello({"echo"})));
    std::vector<RawPeer> idle;
    std::vector<platform::UniqueFd> idle_ends;
    std::vector<platform::UniqueFd> worker_ends;
    for (int i = 0; i < 2; ++i) {
      idle.push_back(RawPeer::connect(daemon.socket_path()));
      require_welcome(idle.back().hello(client_hello({"echo"}, "idle")));
      idle_ends.push_back(introduction(idle.back()).second);
      worker_ends.push_back(introduction(worker).second);
    }

    // The third client gets no introduction, and is told so at once with ipc.no_worker.
    auto late = RawPeer::connect(daemon.socket_path());
    const auto late_session = require_welcome(late.hello(client_hello({"echo"}, "late")));
    auto told = late.receive_notification(proto::kNoWorker, 2s);
    REQUIRE(told);
    CHECK(told->body_as<proto::NoWorker>().method == "echo");
    CHECK(told->body_as<proto::NoWorker>().wait_ms == 60000);
    StatusReport status(observer.status());
    CHECK(status.number("counters.introductions_over_quota") >= 1);

    // One idle client leaves: its slot goes to the late one, within the wait.
    idle.erase(idle.begin());
    idle_ends.erase(idle_ends.begin());
    auto [about_worker, late_end] = introduction(late);
    CHECK(about_worker.peer == worker_session);
    auto [about_late, worker_late_end] = introduction(worker);
    CHECK(about_late.peer == late_session);
    CHECK(carry(late_end.get(), worker_late_end.get(), "served") == "served");
    // The idle client that stayed is not disturbed.
    CHECK(carry(idle_ends[0].get(), worker_ends[1].get(), "still") == "still");
  }
  CHECK(daemon.wait_open_fds(baseline_fds) == baseline_fds);
}
