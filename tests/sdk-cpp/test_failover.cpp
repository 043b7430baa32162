// Failures under load: a worker killed with SIGKILL, the daemon killed and restarted. Every
// call must complete exactly once — with its result, or with an error that says why.
#include <signal.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "call_tally.hpp"
#include "cluster.hpp"

using namespace std::chrono_literals;
using fastmd::ipc::CallOptions;
using fastmd::ipc::CallResult;
using fastmd::proto::Errc;
using fastmd::test::Tally;

namespace {

fastmd::proto::ByteView text(const std::string& s) {
  return fastmd::proto::as_bytes(s);
}

}  // namespace

TEST_CASE("kill -9 of a worker under load: every call is answered exactly once") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("survivor", 2);
  auto& victim = cluster.start_worker("victim", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, 10s));

  const bool idempotent = GENERATE(true, false);
  INFO("idempotent calls: " << idempotent);
  constexpr std::size_t kCalls = 3000;
  Tally tally(kCalls);
  CallOptions options;
  options.idempotent = idempotent;
  for (std::size_t i = 0; i < kCalls; ++i) {
    client->call_async("sleep", text("1"), tally.recorder(i), options);
    if (i == kCalls / 4) victim.signal(SIGKILL);
  }
  REQUIRE(tally.wait_all(60s));
  CHECK(tally.each_answered_once());
  if (idempotent) {
    CHECK(tally.succeeded() == kCalls);  // re-sent to the survivor
  } else {
    CHECK(tally.failed_with(Errc::peer_gone) > 0);  // the victim had calls in flight
    CHECK(tally.failed() == tally.failed_with(Errc::peer_gone));
    CHECK(tally.succeeded() + tally.failed_with(Errc::peer_gone) == kCalls);
  }
  REQUIRE(client->in_flight() == 0);
  REQUIRE(client->call("echo", text("after")).ok());
}

TEST_CASE("kill -9 of a worker under synchronous calls: every call is answered exactly once") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("survivor", 2);
  auto& victim = cluster.start_worker("victim", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, 10s));

  // Synchronous callers read their answers themselves; when their worker dies mid-call the
  // call is re-sent to the survivor (idempotent) and must still come back to them.
  constexpr int kThreads = 4;
  constexpr int kCallsEach = 300;
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < kCallsEach; ++i) {
        (client->call("sleep", text("1")).ok() ? answered : failed)++;
      }
    });
  }
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (answered < kThreads * kCallsEach / 4 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  victim.signal(SIGKILL);
  for (auto& caller : callers) caller.join();
  CHECK(failed == 0);
  CHECK(answered == kThreads * kCallsEach);
  REQUIRE(client->in_flight() == 0);
  REQUIRE(client->call("echo", text("after")).ok());
}

TEST_CASE("the daemon killed and restarted under load: calls complete, the client recovers") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("worker", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, 10s));

  constexpr std::size_t kCalls = 4000;
  Tally tally(kCalls);
  std::thread load([&] {
    for (std::size_t i = 0; i < kCalls; ++i) {
      client->call_async("echo", text("call " + std::to_string(i)), tally.recorder(i));
      if (i % 100 == 0) std::this_thread::sleep_for(2ms);
    }
  });
  std::this_thread::sleep_for(20ms);
  cluster.kill_daemon();
  std::this_thread::sleep_for(100ms);
  cluster.start_daemon();
  load.join();

  REQUIRE(tally.wait_all(60s));
  CHECK(tally.each_answered_once());
  // The direct channel outlives the daemon, so calls keep being answered through it.
  CHECK(tally.succeeded() == kCalls);

  // Both sides registered with the new daemon: the worker is introduced again, and a worker
  // that starts only now is introduced too. Only the new daemon's channels are listed (the
  // killed one's channel to the worker is closed once settled, PROTOCOL.md §3.8 item 4).
  cluster.start_worker("newcomer", 1);
  REQUIRE(client->wait_for_workers(2, 15s));
  CHECK(client->worker_count() == 2);
  std::vector<fastmd::proto::ByteView> views(300);
  std::set<std::string> pids;
  for (auto& reply : client->call_many("pid", views)) {
    REQUIRE(reply.ok());
    pids.insert(reply->to_string());
  }
  CHECK(pids.size() == 2);
}

TEST_CASE("a worker that stops cleanly hands its clients over to the others") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("stays", 1);
  auto& leaving = cluster.start_worker("leaves", 1);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, 10s));

  constexpr std::size_t kCalls = 500;
  Tally tally(kCalls);
  for (std::size_t i = 0; i < kCalls; ++i) {
    client->call_async("sleep", text("1"), tally.recorder(i));
  }
  leaving.signal(SIGTERM);
  REQUIRE(leaving.wait_exit(10s).has_value());
  REQUIRE(tally.wait_all(60s));
  CHECK(tally.each_answered_once());
  CHECK(tally.succeeded() == kCalls);
  CHECK(client->worker_count() == 1);
}
