// ipc.want (PROTOCOL.md §3.9): a client asks for a method it has a call for. The first cases
// run the real daemon (no pools: only live workers serve); the last ones run a Broker in
// this process with a fake WorkerDemand standing for the pool supervisor.
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>

#include "broker.hpp"
#include "daemon_process.hpp"
#include "peer_checks.hpp"

using namespace fastmd;
using namespace fastmd::test;

namespace {

void send_want(RawPeer& client, std::uint64_t id, const std::string& method) {
  client.send(proto::Message::request(id, proto::kWant, proto::encode_body(proto::Want{method})));
}

// The next frame other than ipc.no_worker (about the hello's wants), required to be the
// response to `id`.
Received answer(RawPeer& client, std::uint64_t id, std::chrono::milliseconds timeout = 5s) {
  for (;;) {
    auto frame = client.receive(timeout);
    REQUIRE(frame);
    if (frame->message.is_notification() && frame->message.method == proto::kNoWorker) continue;
    INFO("method of the frame: " << frame->message.method);
    REQUIRE(frame->message.is_response());
    REQUIRE(frame->message.id == id);
    return std::move(*frame);
  }
}

// Requires a successful response whose result is an empty map.
void require_granted(const Received& reply) {
  REQUIRE(reply.message.is_response());
  if (reply.message.error) FAIL("want refused: " << reply.message.error->message);
  proto::Decoder decoder;
  auto result = decoder.unpack(reply.message.payload);
  REQUIRE(result);
  CHECK(result->type == msgpack::type::MAP);
  CHECK(result->via.map.size == 0);
}

// Wants `method` and requires METHOD_NOT_FOUND with the one text, naming `served`.
void require_not_found(RawPeer& client, std::uint64_t id, const std::string& method,
                       const std::string& served) {
  send_want(client, id, method);
  const Received reply = answer(client, id);
  require_error(reply, proto::Errc::method_not_found);
  CHECK(reply.message.error->message ==
        "no worker serves method '" + method + "' (served: " + served + ")");
}

void require_introduced(RawPeer& client, const std::string& worker_name) {
  auto frame = client.receive(5s);
  REQUIRE(frame);
  REQUIRE(frame->message.is_notification());
  REQUIRE(frame->message.method == proto::kIntroduce);
  CHECK(frame->body_as<proto::Introduce>().name == worker_name);
}

}  // namespace

TEST_CASE("a method nobody serves is answered METHOD_NOT_FOUND at once, listing what is served") {
  DaemonProcess daemon({"--no-worker-wait-ms", "60000"});
  auto md = RawPeer::connect(daemon.socket_path());
  require_welcome(md.hello(worker_hello({"transform", "echo"}, "md")));
  auto images = RawPeer::connect(daemon.socket_path());
  require_welcome(images.hello(worker_hello({"resize", "echo"}, "images")));
  auto client = RawPeer::connect(daemon.socket_path());
  const Received welcome = client.hello(client_hello({"transform"}));
  require_welcome(welcome);
  CHECK(welcome.body_as<proto::HelloReply>().no_worker_wait_ms == 60000u);
  require_introduced(client, "md");

  require_not_found(client, 2, "trasnform", "echo, resize, transform");
  // The session goes on: the answer is about the method, not a protocol error.
  CHECK(StatusReport(client.status()).number("sessions_total") == 3);
}

TEST_CASE("with no worker at all, METHOD_NOT_FOUND says that nothing is served") {
  DaemonProcess daemon;
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({})));
  require_not_found(client, 2, "transform", "none");
}

TEST_CASE("ipc.want for a served method is granted, introducing the worker first if need be") {
  DaemonProcess daemon;
  auto md = RawPeer::connect(daemon.socket_path());
  require_welcome(md.hello(worker_hello({"transform"}, "md")));
  auto images = RawPeer::connect(daemon.socket_path());
  require_welcome(images.hello(worker_hello({"resize"}, "images")));
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({"transform"})));
  require_introduced(client, "md");

  // Already introduced to a worker of it: granted at once.
  send_want(client, 2, "transform");
  require_granted(answer(client, 2));
  // Not wanted at hello, so not introduced: the want introduces the worker, then is granted.
  send_want(client, 3, "resize");
  require_introduced(client, "images");
  require_granted(answer(client, 3));
  auto about_client = images.receive_notification(proto::kIntroduce);
  REQUIRE(about_client);
  // A want answered may be asked again (e.g. after the worker ended).
  send_want(client, 4, "resize");
  require_granted(answer(client, 4));
}

TEST_CASE(
    "a want waits bounded for a worker with an introduction to spare; a duplicate is refused") {
  DaemonProcess daemon({"--max-introductions-per-session", "1", "--no-worker-wait-ms", "60000"});
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(worker_hello({"transform"}, "md")));
  auto first = RawPeer::connect(daemon.socket_path());
  require_welcome(first.hello(client_hello({"transform"})));
  require_introduced(first, "md");  // the worker has used its one introduction

  auto second = RawPeer::connect(daemon.socket_path());
  require_welcome(second.hello(client_hello({"transform"})));
  REQUIRE(second.receive_notification(proto::kNoWorker));  // the worker has no introduction left
  send_want(second, 2, "transform");
  CHECK_FALSE(second.receive(200ms));  // waits: a live worker serves it
  send_want(second, 3, "transform");
  const Received duplicate = answer(second, 3);
  require_error(duplicate, proto::Errc::unexpected_message);
  CHECK(duplicate.message.error->message ==
        "ipc.want for 'transform' is already waiting (request 2); that one is answered");

  // The first client ends: the worker has an introduction to spare for the waiting want.
  first = RawPeer::connect(daemon.socket_path());
  require_introduced(second, "md");
  require_granted(answer(second, 2));
}

TEST_CASE("a want that no introduction answers in time gets NO_WORKER after no-worker-wait-ms") {
  DaemonProcess daemon({"--max-introductions-per-session", "1", "--no-worker-wait-ms", "300"});
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(worker_hello({"transform"}, "md")));
  auto first = RawPeer::connect(daemon.socket_path());
  require_welcome(first.hello(client_hello({"transform"})));
  require_introduced(first, "md");
  auto second = RawPeer::connect(daemon.socket_path());
  require_welcome(second.hello(client_hello({"transform"})));
  send_want(second, 2, "transform");
  const Received reply = answer(second, 2);
  require_error(reply, proto::Errc::no_worker);
  CHECK(reply.message.error->message ==
        "no worker serving 'transform' was introduced within 300 ms (--no-worker-wait-ms)");
  // The wait is over and forgotten: a new want waits anew.
  send_want(second, 3, "transform");
  require_error(answer(second, 3), proto::Errc::no_worker);
}

TEST_CASE("a worker or an observer that sends ipc.want is refused with UNEXPECTED_MESSAGE") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(worker_hello({"transform"})));
  send_want(worker, 2, "transform");
  const Received refused = answer(worker, 2);
  require_error(refused, proto::Errc::unexpected_message);
  CHECK(refused.message.error->message ==
        "after the handshake the daemon takes only ipc.status requests (and ipc.want from a "
        "client, ipc.load and ipc.draining from a worker), not a request 'ipc.want' from a "
        "worker");
  CHECK(worker.wait_closed());

  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  send_want(observer, 2, "transform");
  require_error(answer(observer, 2), proto::Errc::unexpected_message);
  CHECK(observer.wait_closed());
}

TEST_CASE("ipc.want without a method, or with one too long, is refused and the session closed") {
  DaemonProcess daemon;
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({})));
  client.send(proto::Message::request(2, proto::kWant, proto::encode_body(proto::Shutdown{"x"})));
  require_error(answer(client, 2), proto::Errc::missing_field);
  CHECK(client.wait_closed());

  auto other = RawPeer::connect(daemon.socket_path());
  require_welcome(other.hello(client_hello({})));
  send_want(other, 2, std::string(proto::kMaxMethodName + 1, 'm'));
  require_error(answer(other, 2), proto::Errc::invalid_field);
  CHECK(other.wait_closed());
}

// ---- the broker with a fake pool supervisor (WorkerDemand) ----

namespace {

// Stands for the pool supervisor: serves `pool_methods`, records each request_worker(), and
// says it is learning a pool's methods while `learning` is set.
class FakeDemand final : public daemon::WorkerDemand {
 public:
  explicit FakeDemand(std::vector<std::string> methods) : methods_(std::move(methods)) {}
  std::vector<std::string> pool_methods() const override {
    std::lock_guard lock(mutex_);
    return methods_;
  }
  bool learning_methods() const override {
    std::lock_guard lock(mutex_);
    return learning_;
  }
  /// What a pool that declares no methods looks like before and after its first worker's hello.
  void set_learning(bool learning, std::vector<std::string> methods) {
    std::lock_guard lock(mutex_);
    learning_ = learning;
    methods_ = std::move(methods);
  }
  bool request_worker(const std::string& method) override {
    std::lock_guard lock(mutex_);
    requested_.push_back(method);
    return true;
  }
  std::vector<std::string> requested() const {
    std::lock_guard lock(mutex_);
    return requested_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> methods_;
  bool learning_ = false;
  std::vector<std::string> requested_;
};

// A Broker on its own io thread; peers connect to it over socketpairs.
class BrokerOnThread {
 public:
  BrokerOnThread(daemon::WorkerDemand& demand, std::uint32_t no_worker_wait_ms) {
    daemon::Limits limits;
    limits.no_worker_wait_ms = no_worker_wait_ms;
    broker_ =
        std::make_unique<daemon::Broker>(io_, limits, daemon::AdmissionPolicy{::getuid()}, "test");
    broker_->set_worker_demand(&demand);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~BrokerOnThread() {
    asio::post(io_, [this] {
      broker_.reset();
      work_.reset();
    });
    thread_.join();
  }

  RawPeer connect() {
    auto pair = platform::make_socketpair();
    REQUIRE(pair);
    asio::post(io_, [this, end = std::make_shared<platform::UniqueFd>(std::move(pair->first))] {
      broker_->accept(std::move(*end));
    });
    return RawPeer(std::move(pair->second));
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<daemon::Broker> broker_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("a want for a pool's method starts a pool worker and is granted once it joins") {
  FakeDemand pools({"transform"});
  BrokerOnThread broker(pools, 60000);
  auto client = broker.connect();
  require_welcome(client.hello(client_hello({})));
  send_want(client, 2, "transform");
  CHECK_FALSE(client.receive(200ms));  // waits for the pool's worker
  CHECK(pools.requested() == std::vector<std::string>{"transform"});

  auto worker = broker.connect();
  require_welcome(worker.hello(worker_hello({"transform", "length"}, "pool-md")));
  require_introduced(client, "pool-md");
  require_granted(answer(client, 2));
  CHECK(pools.requested().size() == 1);  // a live worker serves it now: no more requests
}

TEST_CASE("a want for a pool's method whose worker does not come gets NO_WORKER after the wait") {
  FakeDemand pools({"transform"});
  BrokerOnThread broker(pools, 200);
  auto client = broker.connect();
  require_welcome(client.hello(client_hello({})));
  send_want(client, 2, "transform");
  require_error(answer(client, 2), proto::Errc::no_worker);
  CHECK(pools.requested() == std::vector<std::string>{"transform"});
}

TEST_CASE("METHOD_NOT_FOUND lists the methods of live workers and of pools, sorted, once each") {
  FakeDemand pools({"length", "transform"});
  BrokerOnThread broker(pools, 60000);
  auto worker = broker.connect();
  require_welcome(worker.hello(worker_hello({"echo", "transform"}, "hand-started")));
  auto client = broker.connect();
  require_welcome(client.hello(client_hello({"echo"})));
  require_introduced(client, "hand-started");
  require_not_found(client, 2, "trasnform", "echo, length, transform");
  CHECK(pools.requested().empty());
}

TEST_CASE(
    "a want while a pool is still learning its methods waits, and is granted if they include it") {
  FakeDemand pools({});
  pools.set_learning(true, {});
  BrokerOnThread broker(pools, 60000);
  auto client = broker.connect();
  require_welcome(client.hello(client_hello({})));
  send_want(client, 2, "transform");
  CHECK_FALSE(client.receive(200ms));  // not METHOD_NOT_FOUND: the pool may serve it

  pools.set_learning(false, {"transform"});  // its first worker told its methods in the hello
  auto worker = broker.connect();
  require_welcome(worker.hello(worker_hello({"transform"}, "learning-worker")));
  require_introduced(client, "learning-worker");
  require_granted(answer(client, 2));
}

TEST_CASE(
    "a want while a pool is still learning gets METHOD_NOT_FOUND once it learned them without it") {
  FakeDemand pools({});
  pools.set_learning(true, {});
  BrokerOnThread broker(pools, 60000);
  auto client = broker.connect();
  require_welcome(client.hello(client_hello({"echo"})));
  auto notice = client.receive(5s);  // nobody serves the echo it wants at hello
  REQUIRE(notice);
  CHECK(notice->message.method == proto::kNoWorker);
  send_want(client, 2, "trasnform");
  CHECK_FALSE(client.receive(200ms));

  pools.set_learning(false, {"transform"});
  auto worker = broker.connect();
  require_welcome(worker.hello(worker_hello({"transform"}, "learning-worker")));
  const Received refused = answer(client, 2);
  require_error(refused, proto::Errc::method_not_found);
  CHECK(refused.message.error->message ==
        "no worker serves method 'trasnform' (served: transform)");
}
