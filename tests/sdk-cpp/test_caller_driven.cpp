// A Client driven by its caller's event loop (ClientDrive::caller): it starts no thread, the
// caller polls its poll_fd() and calls process(), and every callback runs on the caller's
// thread — the way the Node addon drives the core from libuv. Calls are answered through the
// inline and shared-memory paths, deadlines fire from next_wakeup(), a worker killed mid-load
// costs no idempotent call, the blocking calls run the I/O themselves, and the caller may
// wait for answers in memory before its loop sleeps (spin_for_answers).
#include <poll.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include "call_tally.hpp"
#include "client_core.hpp"
#include "cluster.hpp"

using namespace std::chrono_literals;
using fastmd::ipc::CallResult;
using fastmd::ipc::ClientDrive;
using fastmd::proto::Errc;

namespace {

std::size_t thread_count() {
  std::size_t threads = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
    ++threads;
  return threads;
}

// The caller's event loop: polls the client's fd until `done()` or `limit` passed, waking at
// the client's next_wakeup() as an event loop's timer would.
template <class Done>
bool run_loop(fastmd::ipc::Client& client, Done done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return false;
    const auto wake = std::min(client.next_wakeup(), until);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
    pollfd io{client.poll_fd(), POLLIN, 0};
    (void)::poll(&io, 1, static_cast<int>(std::max<std::int64_t>(wait.count(), 0)));
    client.process();
  }
  return true;
}

fastmd::ipc::ClientOptions caller_driven() {
  fastmd::ipc::ClientOptions options;
  options.drive = ClientDrive::caller;
  return options;
}

// A caller-driven client that spins up to 10 s per wait (long enough on any machine), with one
// fastmd-test-worker (echo, sleep) whose rings a first call through the loop exchanged.
std::unique_ptr<fastmd::ipc::Client> spinning_client(fastmd::testing::Cluster& cluster) {
  cluster.start_worker("one", 1);
  auto options = caller_driven();
  options.spin_budget = 10s;
  auto client = cluster.client(options);
  REQUIRE(client->wait_for_workers(1, 10s));
  std::optional<CallResult> first;
  client->call_async("echo", fastmd::proto::as_bytes("first"),
                     [&](CallResult result) { first.emplace(std::move(result)); });
  REQUIRE(run_loop(
      *client, [&] { return first.has_value(); }, 10s));
  return client;
}

}  // namespace

TEST_CASE(
    "a client driven by its caller's poll loop starts no thread and runs every callback on "
    "the caller's thread") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("one", 2);
  const std::size_t threads_before = thread_count();
  auto client = cluster.client(caller_driven());
  REQUIRE(client->wait_for_workers(1, 10s));
  CHECK(thread_count() == threads_before);

  constexpr std::size_t kCalls = 500;
  const std::string small = "ping";
  const std::string large(256 * 1024, 'x');  // through the segments both ways
  const auto caller = std::this_thread::get_id();
  std::atomic<std::size_t> answered{0}, elsewhere{0}, wrong{0};
  for (std::size_t i = 0; i < kCalls; ++i) {
    const std::string& params = i % 10 == 0 ? large : small;
    client->call_async("echo", fastmd::proto::as_bytes(params), [&, i](CallResult result) {
      if (std::this_thread::get_id() != caller) ++elsewhere;
      const std::string& sent = i % 10 == 0 ? large : small;
      if (!result || result->text() != sent) ++wrong;
      ++answered;
    });
  }
  REQUIRE(run_loop(
      *client, [&] { return answered.load() == kCalls; }, 30s));
  CHECK(elsewhere.load() == 0);
  CHECK(wrong.load() == 0);
  CHECK(client->in_flight() == 0);
}

TEST_CASE("a caller-driven client's deadline fires from next_wakeup, with no thread to fire it") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("sleeper", 1);
  auto client = cluster.client(caller_driven());
  REQUIRE(client->wait_for_workers(1, 10s));
  std::optional<CallResult> outcome;
  fastmd::ipc::CallOptions options;
  options.timeout = 100ms;
  client->call_async(
      "sleep", fastmd::proto::as_bytes("3000"),
      [&](CallResult result) { outcome.emplace(std::move(result)); }, options);
  CHECK(client->next_wakeup() != std::chrono::steady_clock::time_point::max());
  REQUIRE(run_loop(
      *client, [&] { return outcome.has_value(); }, 10s));
  REQUIRE_FALSE(outcome->ok());
  CHECK(outcome->error().code == Errc::timeout);
}

TEST_CASE(
    "a caller-driven client waits for answers in memory before its loop sleeps, and runs their "
    "callbacks there") {
  fastmd::testing::Cluster cluster;
  auto client = spinning_client(cluster);
  // Nothing in flight: no wait, and the loop is not even asked.
  int asked = 0;
  const auto never_interrupted = [&] {
    ++asked;
    return false;
  };
  CHECK_FALSE(client->spin_for_answers(std::chrono::steady_clock::now() + 10s, never_interrupted));
  CHECK(asked == 0);

  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 100; ++i) {
    std::optional<CallResult> outcome;
    std::thread::id ran_on;
    client->call_async("echo", fastmd::proto::as_bytes("ping"), [&](CallResult result) {
      ran_on = std::this_thread::get_id();
      outcome.emplace(std::move(result));
    });
    bool spun = false;
    while (!outcome &&
           client->spin_for_answers(std::chrono::steady_clock::now() + 10s, never_interrupted)) {
      spun = true;
    }
    INFO("call " << i);
    REQUIRE(spun);
    REQUIRE(outcome.has_value());
    REQUIRE(outcome->ok());
    CHECK((*outcome)->text() == "ping");
    CHECK(ran_on == caller);
  }
  // It stopped right after answers, so the worker does not ring yet; after end_spin() it
  // rings the loop, sleeping on poll_fd() alone, for an answer written into the ring.
  std::optional<CallResult> slow;
  client->call_async("sleep", fastmd::proto::as_bytes("200"),
                     [&](CallResult result) { slow.emplace(std::move(result)); });
  client->end_spin();
  pollfd io{client->poll_fd(), POLLIN, 0};
  REQUIRE(::poll(&io, 1, 10'000) == 1);
  REQUIRE(run_loop(
      *client, [&] { return slow.has_value(); }, 10s));
  REQUIRE(slow->ok());
  CHECK((*slow)->text() == "200");
}

TEST_CASE(
    "a caller-driven client stops waiting for answers as soon as its loop has other work or its "
    "time is up, and leaves the worker to ring for the loop") {
  fastmd::testing::Cluster cluster;
  auto client = spinning_client(cluster);
  std::optional<CallResult> outcome;
  client->call_async("sleep", fastmd::proto::as_bytes("300"),
                     [&](CallResult result) { outcome.emplace(std::move(result)); });
  int asked = 0;
  const auto loop_has_work = [&] {
    ++asked;
    return true;  // e.g. another fd of the loop is readable
  };
  // A doorbell the worker rang for the first answer may still be on its way (the last round
  // read that answer from the ring before it came): input, so that wait ends with true, and
  // before the loop is asked. At most once per sleep the worker saw.
  int early_doorbells = 0;
  while (client->spin_for_answers(std::chrono::steady_clock::now() + 10s, loop_has_work)) {
    REQUIRE(++early_doorbells < 3);
  }
  CHECK(asked == 1);
  CHECK_FALSE(client->spin_for_answers(std::chrono::steady_clock::now(), [] { return false; }));
  CHECK_FALSE(outcome.has_value());
  // The loop sleeps on poll_fd() alone: the answer, written into the ring, must ring for it.
  pollfd io{client->poll_fd(), POLLIN, 0};
  REQUIRE(::poll(&io, 1, 10'000) == 1);
  REQUIRE(run_loop(
      *client, [&] { return outcome.has_value(); }, 10s));
  REQUIRE(outcome->ok());
  CHECK((*outcome)->text() == "300");
}

TEST_CASE("a caller-driven client's blocking call and call_many run the I/O themselves") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("one", 2);
  auto client = cluster.client(caller_driven());
  REQUIRE(client->wait_for_workers(1, 10s));
  auto reply = client->call("echo", fastmd::proto::as_bytes("blocking"));
  REQUIRE(reply.ok());
  CHECK(reply->text() == "blocking");

  const std::string text(100 * 1024, 'y');
  std::vector<fastmd::proto::ByteView> many(64, fastmd::proto::as_bytes("m"));
  many[7] = fastmd::proto::as_bytes(text);
  const auto results = client->call_many("echo", many);
  REQUIRE(results.size() == many.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    INFO("call " << i);
    REQUIRE(results[i].ok());
    CHECK(results[i]->size() == many[i].size());
  }
}

TEST_CASE("kill -9 of a worker under a caller-driven client's load: every call answered once") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("survivor", 2);
  auto& victim = cluster.start_worker("victim", 2);
  auto client = cluster.client(caller_driven());
  REQUIRE(client->wait_for_workers(2, 10s));

  constexpr std::size_t kCalls = 2000;
  fastmd::test::Tally tally(kCalls);
  for (std::size_t i = 0; i < kCalls; ++i) {
    client->call_async("sleep", fastmd::proto::as_bytes("1"), tally.recorder(i));
    if (i == kCalls / 4) victim.signal(SIGKILL);
    if (i % 50 == 0) client->process();
  }
  REQUIRE(run_loop(
      *client, [&] { return client->in_flight() == 0; }, 60s));
  REQUIRE(tally.wait_all(1s));
  CHECK(tally.each_answered_once());
  CHECK(tally.succeeded() == kCalls);  // idempotent calls are re-sent to the survivor
}

namespace {

// The caller's own set of watched fds, as a binding keeps one (the Node addon's LoopPollSet):
// here a platform Poller behind it, counting what the client asks of it.
class CountingPollSet final : public fastmd::platform::PollSet {
 public:
  CountingPollSet() : inner_(fastmd::platform::Poller::open().value()) {}

  void change(int fd, void* tag, fastmd::platform::Interest from,
              fastmd::platform::Interest to) override {
    ++changes;
    inner_.change(fd, tag, from, to);
  }
  int wait(std::span<Ready> ready, int timeout_ms) override {
    ++waits;
    return inner_.wait(ready, timeout_ms);
  }
  void wake() override { inner_.wake(); }
  int fd() const override { return inner_.fd(); }

  std::atomic<int> changes{0};
  std::atomic<int> waits{0};

 private:
  fastmd::platform::Poller inner_;
};

}  // namespace

TEST_CASE("a client connected over its caller's poll set watches its fds in it and waits on it") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("one", 2);
  auto options = caller_driven();
  options.socket_path = cluster.socket_path();
  auto poll_set = std::make_unique<CountingPollSet>();
  CountingPollSet& watched = *poll_set;
  auto connected = fastmd::ipc::detail::connect_over(std::move(options), std::move(poll_set));
  REQUIRE(connected.ok());
  auto& client = **connected;
  CHECK(client.poll_fd() == watched.fd());
  CHECK(watched.changes.load() >= 1);  // the daemon connection, from the first hello on
  REQUIRE(client.wait_for_workers(1, 10s));

  const int waits_before = watched.waits.load();
  std::atomic<std::size_t> answered{0}, wrong{0};
  for (int i = 0; i < 100; ++i) {
    client.call_async("echo", fastmd::proto::as_bytes("ping"), [&](CallResult result) {
      if (!result || result->text() != "ping") ++wrong;
      ++answered;
    });
  }
  REQUIRE(run_loop(
      client, [&] { return answered.load() == 100; }, 30s));
  CHECK(wrong.load() == 0);
  CHECK(watched.waits.load() > waits_before);
}
