// A real fastmd::ipc::Worker reports its load to the daemon (ipc.load, PROTOCOL.md §3.10): the
// calls it holds while they run, the calls it answered, and nothing more once it is idle; and
// only to a daemon whose hello reply said accepts_load (a stand-in daemon speaks the raw
// protocol for that case).
#include <poll.h>
#include <sys/socket.h>
#include <catch2/catch.hpp>

#include <future>
#include <span>
#include <thread>

#include "cluster.hpp"
#include "daemon_process.hpp"
#include "fastmd/ipc/worker.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "raw_peer.hpp"
#include "worker_load_status.hpp"

using namespace std::chrono_literals;
using fastmd::ipc::CallResult;
using fastmd::proto::ByteView;
using fastmd::test::RawPeer;
using fastmd::test::WorkerLoadEntry;

namespace {

ByteView text(const std::string& s) {
  return fastmd::proto::as_bytes(s);
}

// Polls the status until the worker's load satisfies `done` (at most 10 s); the last one seen.
template <class Predicate>
WorkerLoadEntry wait_for_load(RawPeer& observer, Predicate done) {
  std::optional<WorkerLoadEntry> load;
  for (int i = 0; i < 1000; ++i) {
    load = fastmd::test::worker_load(observer.status(), "load-worker");
    if (load && done(*load)) break;
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(load);
  return *load;
}

}  // namespace

TEST_CASE(
    "a worker reports the calls it holds and the calls it answered, and goes quiet when idle") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("load-worker", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, 10s));
  auto observer = RawPeer::connect(cluster.socket_path());
  REQUIRE_FALSE(observer.hello(fastmd::test::observer_hello()).message.error);

  const auto began = std::chrono::steady_clock::now();
  const std::string x = "x";  // outlives the views (text("x") would view a temporary)
  std::vector<ByteView> views(500, text(x));
  for (const CallResult& reply : client->call_many("echo", views)) REQUIRE(reply.ok());
  WorkerLoadEntry load = wait_for_load(
      observer, [](const WorkerLoadEntry& l) { return l.served == 500 && l.in_flight == 0; });
  CHECK(load.served == 500);

  // A call of 1.5 s: the daemon sees it in flight, then answered.
  const std::string sleep_ms = "1500";
  auto sleeping = client->call_async("sleep", text(sleep_ms));
  load = wait_for_load(observer, [](const WorkerLoadEntry& l) { return l.in_flight == 1; });
  CHECK(load.in_flight == 1);
  REQUIRE(sleeping.get().ok());
  load = wait_for_load(
      observer, [](const WorkerLoadEntry& l) { return l.in_flight == 0 && l.served == 501; });
  CHECK(load.in_flight == 0);
  CHECK(load.served == 501);

  // Idle with its last report current: no more reports, however long it waits.
  const std::uint64_t reports = load.reports;
  std::this_thread::sleep_for(500ms);
  load = wait_for_load(observer, [](const WorkerLoadEntry&) { return true; });
  CHECK(load.reports == reports);
  CHECK(load.reported_ms_ago >= 500);
  // Never more than one report per 100 ms (the first may come at once).
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - began);
  CHECK(load.reports <= static_cast<std::uint64_t>(elapsed.count()) / 100 + 1);
}

namespace {

// A stand-in daemon on `path` for one worker: it answers the worker's hello with `reply`,
// introduces a raw client to it and has that client make one call. Returns whether an ipc.load
// reached the control connection within `quiet` after the answer, and the hello it saw.
struct LoadGateOutcome {
  fastmd::proto::Hello hello;
  bool load_arrived = false;
};

LoadGateOutcome serve_one_call(const std::string& path, fastmd::proto::HelloReply reply,
                               std::chrono::milliseconds quiet) {
  using namespace fastmd;
  auto listening = platform::listen_unix(path);
  REQUIRE(listening.ok());
  ipc::MethodTable methods;
  methods.add("echo", [](ByteView params, ipc::ResultWriter& out) { out.append(params); });
  ipc::WorkerOptions options;
  options.socket_path = path;
  options.name = "gate-worker";
  ipc::Worker worker(std::move(methods), options);
  auto started = std::async(std::launch::async, [&] { return worker.start(); });

  pollfd incoming{listening->get(), POLLIN, 0};  // the listening socket is non-blocking
  REQUIRE(::poll(&incoming, 1, 5000) == 1);
  RawPeer control(platform::UniqueFd(::accept4(listening->get(), nullptr, nullptr, SOCK_CLOEXEC)));
  auto hello = control.receive();
  REQUIRE(hello);
  LoadGateOutcome outcome;
  outcome.hello = hello->body_as<proto::Hello>();
  control.send(proto::Message::response(hello->message.id, proto::encode_body(reply)));
  REQUIRE(started.get().ok());

  auto pair = platform::make_socketpair();
  REQUIRE(pair.ok());
  proto::Introduce client;
  client.peer = 2;
  client.role = proto::Role::client;
  const proto::ByteBuffer params = proto::encode_body(client);
  proto::Message introduce = proto::Message::notification(proto::kIntroduce, params);
  introduce.fds = 1;
  const int channel_fd = pair->second.get();
  control.send(introduce, std::span<const int>(&channel_fd, 1));
  pair->second.reset();
  RawPeer channel(std::move(pair->first), proto::kDefaultMaxDataFrame);
  const std::string text = "ping";
  proto::Message call = proto::Message::request(1, "echo");
  call.payload = proto::as_bytes(text);
  channel.send(call);
  auto answer = channel.receive();
  REQUIRE(answer);
  REQUIRE_FALSE(answer->message.error);

  outcome.load_arrived = control.receive_notification(proto::kLoad, quiet).has_value();
  worker.stop();
  return outcome;
}

}  // namespace

TEST_CASE("a worker says reports_load, and sends ipc.load only to a daemon that accepts it") {
  fastmd::test::TempDir dir;
  fastmd::proto::HelloReply older;  // a daemon from before ipc.load: no accepts_load
  older.session = 1;
  older.daemon = "0.3.0";
  // A report is due 100 ms after the answer; ten times that without one means none is sent.
  const auto silent = serve_one_call(dir.path() + "/older.sock", older, 1000ms);
  CHECK(silent.hello.reports_load);
  CHECK_FALSE(silent.load_arrived);

  fastmd::proto::HelloReply current = older;
  current.daemon = "0.5.0";
  current.accepts_load = true;
  const auto reporting = serve_one_call(dir.path() + "/current.sock", current, 5000ms);
  CHECK(reporting.hello.reports_load);
  CHECK(reporting.load_arrived);
}
