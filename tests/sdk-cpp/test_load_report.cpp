// A real fastmd::ipc::Worker reports its load to the daemon (ipc.load, PROTOCOL.md §3.10): the
// calls it holds while they run, the calls it answered, and nothing more once it is idle.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "cluster.hpp"
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
