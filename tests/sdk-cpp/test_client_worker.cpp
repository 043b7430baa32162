// Client ⇄ Worker over the real daemon: round trips of every size, pipelining, load sharing,
// errors, deadlines and cancellation.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "cluster.hpp"
#include "daemon_process.hpp"
#include "fastmd/ipc/worker.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/proto/codec.hpp"

using namespace std::chrono_literals;
using fastmd::ipc::CallOptions;
using fastmd::ipc::CallResult;
using fastmd::ipc::ClientOptions;
using fastmd::proto::ByteView;
using fastmd::proto::Errc;

namespace {

constexpr auto kWorkerWait = 10s;

std::vector<std::byte> random_bytes(std::size_t size, unsigned seed) {
  std::vector<std::byte> bytes(size);
  std::mt19937_64 generator(seed);
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t word = generator();
    std::memcpy(bytes.data() + i, &word, std::min<std::size_t>(8, size - i));
  }
  return bytes;
}

ByteView text(const std::string& s) {
  return fastmd::proto::as_bytes(s);
}

}  // namespace

TEST_CASE("round trips of 0 B, 1 KiB, 1 MiB, 10 MiB and 64 MiB come back byte for byte") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("echo-worker");
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));

  for (std::size_t size : {std::size_t{0}, std::size_t{1} << 10, std::size_t{1} << 20,
                           std::size_t{10} << 20, std::size_t{64} << 20}) {
    INFO("payload of " << size << " bytes");
    const auto payload = random_bytes(size, static_cast<unsigned>(size));
    CallResult reply = client->call("echo", payload);
    REQUIRE(reply.ok());
    REQUIRE(reply->size() == size);
    REQUIRE(std::equal(payload.begin(), payload.end(), reply->bytes().begin()));
  }
}

TEST_CASE("10,000 pipelined calls are all answered, asynchronously and in a batch") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("echo-worker", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));
  constexpr std::size_t kCalls = 10'000;

  std::vector<std::string> params;
  for (std::size_t i = 0; i < kCalls; ++i) params.push_back("call " + std::to_string(i));

  SECTION("futures") {
    std::vector<std::future<CallResult>> replies;
    for (const auto& p : params) replies.push_back(client->call_async("echo", text(p)));
    for (std::size_t i = 0; i < kCalls; ++i) {
      REQUIRE(replies[i].wait_for(30s) == std::future_status::ready);
      CallResult reply = replies[i].get();
      REQUIRE(reply.ok());
      REQUIRE(reply->text() == params[i]);
    }
  }
  SECTION("call_many") {
    std::vector<ByteView> views;
    for (const auto& p : params) views.push_back(text(p));
    std::vector<CallResult> replies = client->call_many("echo", views);
    REQUIRE(replies.size() == kCalls);
    for (std::size_t i = 0; i < kCalls; ++i) {
      REQUIRE(replies[i].ok());
      REQUIRE(replies[i]->text() == params[i]);
    }
  }
  REQUIRE(client->in_flight() == 0);
}

TEST_CASE("two workers share the load") {
  fastmd::testing::Cluster cluster;
  const pid_t first = cluster.start_worker("worker-a").pid();
  const pid_t second = cluster.start_worker("worker-b").pid();
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, kWorkerWait));

  std::vector<ByteView> views(2'000);
  std::vector<CallResult> replies = client->call_many("pid", views);
  std::map<std::string, int> calls_per_worker;
  for (auto& reply : replies) {
    REQUIRE(reply.ok());
    ++calls_per_worker[reply->to_string()];
  }
  REQUIRE(calls_per_worker.size() == 2);
  REQUIRE(calls_per_worker[std::to_string(first)] >= 500);
  REQUIRE(calls_per_worker[std::to_string(second)] >= 500);
}

TEST_CASE("a handler that throws fails its call and the worker goes on") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("worker");
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));

  CallResult failed = client->call("fail", {});
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::handler_failed);
  CHECK_THAT(failed.error().message, Catch::Contains("always fails"));

  CallResult next = client->call("echo", text("still here"));
  REQUIRE(next.ok());
  CHECK(next->text() == "still here");
}

TEST_CASE("large results are written in the worker's memory and read in place") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("worker");
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));

  for (std::size_t size : {std::size_t{100}, std::size_t{3} << 20, std::size_t{20} << 20}) {
    INFO("result of " << size << " bytes");
    CallResult reply = client->call("big", text(std::to_string(size)));
    REQUIRE(reply.ok());
    REQUIRE(reply->size() == size);
    bool pattern = true;
    for (std::size_t i = 0; i < size && pattern; ++i) {
      pattern = reply->text()[i] == static_cast<char>('a' + i % 26);
    }
    CHECK(pattern);
  }
}

TEST_CASE(
    "a call for a wanted method without a worker fails with NO_WORKER after the daemon's "
    "wait") {
  fastmd::testing::Cluster cluster({"--no-worker-wait-ms", "200"});
  // Declared in the hello: the daemon waits for a worker of it (without, no worker and no pool
  // serving the method is METHOD_NOT_FOUND at once, see below).
  ClientOptions options;
  options.wants = {"echo"};
  auto client = cluster.client(options);

  const auto started = std::chrono::steady_clock::now();
  CallResult reply = client->call("echo", text("anyone?"));
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == Errc::no_worker);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE(
    "a call for a method no worker serves fails with the daemon's METHOD_NOT_FOUND naming "
    "what is served") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("worker");
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));

  for (int attempt = 0; attempt < 2; ++attempt) {  // the second fails from the session's answer
    CallResult reply = client->call("no-such-method", text("x"));
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().code == Errc::method_not_found);
    CHECK(reply.error().message ==
          fastmd::proto::method_not_found_message("no-such-method",
                                                  {"big", "echo", "fail", "peak", "pid", "sleep"}));
  }
  CallResult still = client->call("echo", text("still here"));
  REQUIRE(still.ok());
  CHECK(still->text() == "still here");
}

TEST_CASE("a call for a wanted method waiting for a worker goes to the first one that registers") {
  fastmd::testing::Cluster cluster;
  ClientOptions options;
  options.wants = {"echo"};  // the daemon waits for a worker of it (no pool serves it here)
  auto client = cluster.client(options);
  auto pending = client->call_async("echo", text("late"));
  std::this_thread::sleep_for(100ms);
  cluster.start_worker("late-worker");
  REQUIRE(pending.wait_for(10s) == std::future_status::ready);
  CallResult reply = pending.get();
  REQUIRE(reply.ok());
  CHECK(reply->text() == "late");
}

TEST_CASE("a call's deadline fails it with TIMEOUT and the client goes on") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("worker", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));

  CallOptions options;
  options.timeout = 50ms;
  const auto started = std::chrono::steady_clock::now();
  CallResult slow = client->call("sleep", text("2000"), options);
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().code == Errc::timeout);
  CHECK(std::chrono::steady_clock::now() - started < 1500ms);

  CallResult quick = client->call("echo", text("after"), options);
  REQUIRE(quick.ok());
  CHECK(quick->text() == "after");
}

TEST_CASE("a cancelled call completes with CANCELLED and the worker skips it") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("worker", 1);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));
  // A channel's first calls may go by the socket until its rings are live, and the two paths
  // are not ordered with each other (PROTOCOL.md §5.5): the 5 s call could reach the worker
  // first and take its only handler thread (1 run in ~150 under load did). One answered call
  // makes the rings live, so that the calls below reach the worker in the order they are sent.
  REQUIRE(client->call("echo", text("rings")).ok());

  // The only handler thread is busy, so the next call waits in the worker's queue.
  auto busy = client->call_async("sleep", text("300"));
  std::promise<CallResult> outcome;
  const fastmd::ipc::CallId id = client->call_async(
      "sleep", text("5000"), [&outcome](CallResult r) { outcome.set_value(std::move(r)); });
  std::this_thread::sleep_for(50ms);
  REQUIRE(client->cancel(id));
  auto cancelled = outcome.get_future();
  REQUIRE(cancelled.wait_for(1s) == std::future_status::ready);
  CallResult reply = cancelled.get();
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == Errc::cancelled);
  CHECK_FALSE(client->cancel(id));

  // The worker skipped the cancelled 5 s call: the next call is answered right after `busy`.
  REQUIRE(busy.wait_for(2s) == std::future_status::ready);
  const auto started = std::chrono::steady_clock::now();
  CallResult next = client->call("echo", text("next"));
  REQUIRE(next.ok());
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("connecting without a daemon fails with DAEMON_UNREACHABLE") {
  ClientOptions options;
  options.socket_path = "/tmp/fastmd-no-daemon-here/ipcd.sock";
  auto client = fastmd::ipc::Client::connect(options);
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == Errc::daemon_unreachable);
}

TEST_CASE("a daemon error with id 0 during the handshake is reported with the daemon's code") {
  // A stand-in daemon that reads the hello and answers as fastmd-ipcd does when its handshake
  // timer fires first (PROTOCOL.md §3.6): an error response with id 0, then EOF.
  fastmd::test::TempDir dir;
  const std::string path = dir.path() + "/ipcd.sock";
  auto listening = fastmd::platform::listen_unix(path);
  REQUIRE(listening.ok());
  std::thread daemon([&] {
    pollfd incoming{listening->get(), POLLIN, 0};  // the listening socket is non-blocking
    if (::poll(&incoming, 1, 5000) != 1) return;
    fastmd::platform::UniqueFd peer(::accept4(listening->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!peer) return;
    char hello[512];
    (void)::recv(peer.get(), hello, sizeof hello, 0);
    fastmd::proto::ByteBuffer frame;
    fastmd::proto::append_frame(
        fastmd::proto::Message::failure(0, Errc::handshake_timeout, "no ipc.hello within 2000 ms"),
        frame);
    (void)::send(peer.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
  });
  ClientOptions options;
  options.socket_path = path;
  auto client = fastmd::ipc::Client::connect(options);
  daemon.join();
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == Errc::handshake_timeout);
  INFO(client.error().to_string());
  CHECK(client.error().message.find("no ipc.hello within 2000 ms") != std::string::npos);
}

namespace {

// `count` pipelined echo calls (call_many), each answered with its own payload.
void check_pipelined_echo(fastmd::ipc::Client& client, const std::string& prefix, int count) {
  std::vector<std::string> params;
  for (int i = 0; i < count; ++i) params.push_back(prefix + std::to_string(i));
  std::vector<ByteView> views;
  for (const auto& p : params) views.push_back(text(p));
  std::vector<CallResult> replies = client.call_many("echo", views);
  for (std::size_t i = 0; i < params.size(); ++i) {
    REQUIRE(replies[i].ok());
    REQUIRE(replies[i]->text() == params[i]);
  }
}

}  // namespace

TEST_CASE(
    "rings are used where both sides offer them, and socket frames where either does not: "
    "every call is answered byte for byte either way") {
  const std::uint32_t on = fastmd::ipc::policy::kRingBytes;
  struct Sides {
    std::uint32_t client, worker;
  };
  for (const Sides sides : {Sides{on, on}, Sides{0, on}, Sides{on, 0}, Sides{0, 0}}) {
    INFO("client rings " << sides.client << " B, worker rings " << sides.worker << " B");
    fastmd::testing::Cluster cluster;
    cluster.start_worker("worker", 2, {}, sides.worker);
    auto client = cluster.client({.ring_bytes = sides.client});
    REQUIRE(client->wait_for_workers(1, kWorkerWait));
    for (std::size_t size :
         {std::size_t{0}, std::size_t{64}, std::size_t{1} << 14, std::size_t{1} << 20}) {
      const auto payload = random_bytes(size, static_cast<unsigned>(size) + 7);
      for (int round = 0; round < 20; ++round) {
        CallResult reply = client->call("echo", payload);
        REQUIRE(reply.ok());
        REQUIRE(std::equal(payload.begin(), payload.end(), reply->bytes().begin(),
                           reply->bytes().end()));
      }
    }
    check_pipelined_echo(*client, "pipelined ", 3'000);
    // Both sides' ring files are mapped here (this side's, and the worker's read-only), or none.
    CHECK(fastmd::testing::mappings_named(::getpid(), "fastmd-ring") ==
          (sides.client != 0 && sides.worker != 0 ? 2u : 0u));
  }
}

TEST_CASE(
    "a ring size that is not a power of two from 4 KiB to 64 MiB is refused at the start, "
    "naming the bounds") {
  fastmd::testing::Cluster cluster;
  for (const std::uint32_t bytes : {3000u, 2048u, 256u * 1024 * 1024}) {
    INFO(bytes << " bytes");
    auto client =
        fastmd::ipc::Client::connect({.socket_path = cluster.socket_path(), .ring_bytes = bytes});
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code == Errc::invalid_field);
    CHECK(client.error().message.find("power of two from 4096 to 67108864") != std::string::npos);

    fastmd::ipc::MethodTable methods;
    methods.add("echo", [](ByteView in, fastmd::ipc::ResultWriter& out) { out.append(in); });
    fastmd::ipc::Worker worker(std::move(methods),
                               {.socket_path = cluster.socket_path(), .ring_bytes = bytes});
    auto started = worker.start();
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().code == Errc::invalid_field);
  }
}

TEST_CASE("a worker with a spin budget answers every call byte for byte") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("spinning-worker", 1, 200us);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, kWorkerWait));

  for (std::size_t size :
       {std::size_t{0}, std::size_t{64}, std::size_t{1} << 10, std::size_t{1} << 20}) {
    INFO("payload of " << size << " bytes");
    const auto payload = random_bytes(size, static_cast<unsigned>(size) + 1);
    for (int round = 0; round < 50; ++round) {
      CallResult reply = client->call("echo", payload);
      REQUIRE(reply.ok());
      REQUIRE(reply->size() == size);
      REQUIRE(std::equal(payload.begin(), payload.end(), reply->bytes().begin()));
    }
  }
  check_pipelined_echo(*client, "spun ", 2'000);
}

TEST_CASE("a worker with one handler thread serves two clients in turn") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("single-thread-worker", 1);
  auto first = cluster.client();
  auto second = cluster.client();
  REQUIRE(first->wait_for_workers(1, kWorkerWait));
  REQUIRE(second->wait_for_workers(1, kWorkerWait));

  // Each client makes sequential calls from its own thread; the successful completions are
  // logged in the order they happen (Catch2 asserts on the test's thread only).
  constexpr int kCallsEach = 40;
  std::mutex log_mutex;
  std::vector<int> completions;
  const auto caller = [&](fastmd::ipc::Client& client, int who) {
    for (int i = 0; i < kCallsEach; ++i) {
      CallResult reply = client.call("sleep", text("1"));
      std::lock_guard lock(log_mutex);
      if (reply.ok()) completions.push_back(who);
    }
  };
  std::thread one([&] { caller(*first, 1); });
  std::thread two([&] { caller(*second, 2); });
  one.join();
  two.join();

  // Every call succeeded, and neither client waited for the other to finish all its calls:
  // their answers interleave.
  REQUIRE(completions.size() == 2 * kCallsEach);
  const auto first_of = [&](int who) {
    return std::find(completions.begin(), completions.end(), who) - completions.begin();
  };
  const auto last_of = [&](int who) {
    return std::find(completions.rbegin(), completions.rend(), who).base() - completions.begin();
  };
  CHECK(first_of(2) < last_of(1) - 1);
  CHECK(first_of(1) < last_of(2) - 1);
}

TEST_CASE("handlers run at most `threads` at once, and a slow one does not hold up others") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("two-thread-worker", 2);
  auto slow_client = cluster.client();
  auto quick_client = cluster.client();
  REQUIRE(slow_client->wait_for_workers(1, kWorkerWait));
  REQUIRE(quick_client->wait_for_workers(1, kWorkerWait));

  // One handler thread sleeps for 3 s; the other serves a second client's calls meanwhile.
  auto slow = slow_client->call_async("sleep", text("3000"));
  for (int i = 0; i < 20; ++i) {
    CallResult reply = quick_client->call("echo", text("meanwhile"));
    REQUIRE(reply.ok());
    CHECK(reply->text() == "meanwhile");
  }
  CHECK(slow.wait_for(0s) == std::future_status::timeout);
  REQUIRE(slow.wait_for(30s) == std::future_status::ready);
  REQUIRE(slow.get().ok());

  // Many calls at once never run more than two handlers at once.
  std::vector<std::future<CallResult>> peaks;
  for (int i = 0; i < 8; ++i) peaks.push_back(quick_client->call_async("peak", text("20")));
  unsigned most = 0;
  for (auto& peak : peaks) {
    REQUIRE(peak.wait_for(30s) == std::future_status::ready);
    CallResult reply = peak.get();
    REQUIRE(reply.ok());
    most = std::max<unsigned>(most, static_cast<unsigned>(std::stoul(reply->to_string())));
  }
  CHECK(most == 2);
}

TEST_CASE(
    "synchronous calls from several threads and asynchronous calls at once are all answered") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("worker-a", 2);
  cluster.start_worker("worker-b", 1);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, kWorkerWait));

  // Each synchronous caller reads its own answers from the channel it borrowed; answers of
  // the other calls on that channel must still reach their callers.
  constexpr int kThreads = 4;
  constexpr int kCallsEach = 500;
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        const std::string payload = "thread " + std::to_string(t) + " call " + std::to_string(i);
        CallResult reply = client->call("echo", text(payload));
        if (!reply.ok() || reply->text() != payload) ++wrong;
      }
    });
  }
  std::vector<std::string> params;
  for (int i = 0; i < 2'000; ++i) params.push_back("async " + std::to_string(i));
  std::vector<std::future<CallResult>> replies;
  for (const auto& p : params) replies.push_back(client->call_async("echo", text(p)));
  for (std::size_t i = 0; i < params.size(); ++i) {
    REQUIRE(replies[i].wait_for(30s) == std::future_status::ready);
    CallResult reply = replies[i].get();
    REQUIRE(reply.ok());
    REQUIRE(reply->text() == params[i]);
  }
  for (auto& caller : callers) caller.join();
  CHECK(wrong == 0);
  CHECK(client->in_flight() == 0);
}
