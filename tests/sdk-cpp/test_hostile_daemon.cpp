// A C++ Client against a stand-in daemon (this test, on a listening socket of its own) that
// sends hostile forms of the drain announcement, ipc.peer_draining (PROTOCOL.md §3.3, §3.11):
// params that do not decode are an error on the control connection, which the client closes
// and reconnects, keeping its direct channels; a peer id it does not know is ignored. Either
// way its calls on the stand-in worker's channel go on, none failed.
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "daemon_process.hpp"
#include "fastmd/ipc/client.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "raw_peer.hpp"

using namespace std::chrono_literals;
using fastmd::platform::UniqueFd;
using fastmd::proto::ByteBuffer;
using fastmd::proto::Message;
using fastmd::test::RawPeer;

namespace {

// The next connection to `listening` (non-blocking), within `timeout`; std::nullopt if none.
std::optional<RawPeer> accept_within(const UniqueFd& listening, std::chrono::milliseconds timeout) {
  pollfd incoming{listening.get(), POLLIN, 0};
  if (::poll(&incoming, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  return RawPeer(UniqueFd(::accept4(listening.get(), nullptr, nullptr, SOCK_CLOEXEC)));
}

// Reads a peer's ipc.hello on `control` and welcomes it as session `session`.
void welcome(RawPeer& control, std::uint64_t session) {
  auto hello = control.receive();
  REQUIRE(hello);
  REQUIRE(hello->message.method == fastmd::proto::kHello);
  fastmd::proto::HelloReply reply;
  reply.session = session;
  reply.daemon = "stand-in";
  reply.no_worker_wait_ms = 5000;
  control.send(Message::response(hello->message.id, fastmd::proto::encode_body(reply)));
}

// A stand-in worker on a socketpair: answers every `echo` with its params until the channel
// ends or it is stopped.
class EchoWorker {
 public:
  explicit EchoWorker(UniqueFd channel)
      : channel_(std::move(channel), fastmd::proto::kDefaultMaxDataFrame),
        thread_([this] { serve(); }) {}
  ~EchoWorker() {
    stop_.store(true);
    thread_.join();
  }

 private:
  void serve() {
    while (!stop_.load() && !channel_.closed()) {
      auto request = channel_.receive(50ms);
      if (!request || !request->message.is_request()) continue;
      channel_.send(Message::response(request->message.id, request->message.payload));
    }
  }
  RawPeer channel_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct StandIn {
  fastmd::test::TempDir dir;
  std::string path = dir.path() + "/ipcd.sock";
  UniqueFd listening;
  std::optional<RawPeer> control;
  std::unique_ptr<fastmd::ipc::Client> client;
  std::unique_ptr<EchoWorker> worker;

  StandIn() {
    auto listened = fastmd::platform::listen_unix(path);
    REQUIRE(listened.ok());
    listening = std::move(*listened);
    auto connecting = std::async(std::launch::async, [this] {
      return fastmd::ipc::Client::connect({.socket_path = path, .name = "victim"});
    });
    control = accept_within(listening, 5s);
    REQUIRE(control);
    welcome(*control, 1);
    auto connected = connecting.get();
    REQUIRE(connected.ok());
    client = std::move(*connected);

    // Introduce the stand-in worker, peer 2, serving echo.
    auto pair = fastmd::platform::make_socketpair();
    REQUIRE(pair.ok());
    fastmd::proto::Introduce introduce;
    introduce.peer = 2;
    introduce.role = fastmd::proto::Role::worker;
    introduce.name = "stand-in";
    introduce.methods = {fastmd::proto::MethodSpec{"echo", 1}};
    const ByteBuffer params = fastmd::proto::encode_body(introduce);
    Message message = Message::notification(fastmd::proto::kIntroduce, params);
    message.fds = 1;
    const int fd = pair->second.get();
    control->send(message, {&fd, 1});
    pair->second.reset();
    worker = std::make_unique<EchoWorker>(std::move(pair->first));
    REQUIRE(client->wait_for_workers(1, 5s));
  }

  void announce_draining(const ByteBuffer& params) {
    control->send(Message::notification(fastmd::proto::kPeerDraining, params));
  }

  // `calls` echo calls, each answered with its own text.
  void expect_calls_answered(int calls) {
    for (int i = 0; i < calls; ++i) {
      const std::string text = "call " + std::to_string(i);
      auto result = client->call("echo", fastmd::proto::as_bytes(text), {.timeout = 5s});
      REQUIRE(result.ok());
      CHECK(result->text() == text);
    }
  }
};

ByteBuffer bytes_of(std::initializer_list<std::uint8_t> values) {
  ByteBuffer out;
  for (auto v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

}  // namespace

TEST_CASE(
    "an ipc.peer_draining whose params do not decode makes the client reconnect, keeping its "
    "channels and its calls") {
  StandIn daemon;
  daemon.expect_calls_answered(3);
  SECTION("no peer") {
    daemon.announce_draining(bytes_of({0x80}));  // {}
  }
  SECTION("a peer that is not a number") {
    daemon.announce_draining(bytes_of({0x81, 0xa4, 'p', 'e', 'e', 'r', 0xa3, 't', 'w', 'o'}));
  }
  // The client ends the control connection and connects again.
  CHECK(daemon.control->wait_closed(5s));
  auto again = accept_within(daemon.listening, 5s);
  REQUIRE(again);
  welcome(*again, 2);
  // The stand-in worker's channel was kept: calls go on, none failed.
  daemon.expect_calls_answered(20);
  CHECK(daemon.client->worker_count() == 1);
}

TEST_CASE("an ipc.peer_draining naming a peer the client does not know changes nothing") {
  StandIn daemon;
  fastmd::proto::PeerDraining unknown;
  unknown.peer = 99;
  daemon.announce_draining(fastmd::proto::encode_body(unknown));
  daemon.expect_calls_answered(20);
  CHECK(daemon.client->worker_count() == 1);
  // The control connection goes on.
  CHECK_FALSE(daemon.control->receive(200ms).has_value());
  CHECK_FALSE(daemon.control->closed());
}
