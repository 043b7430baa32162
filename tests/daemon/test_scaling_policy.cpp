// The pools' scaling policy (daemon/src/pools/scaling_policy.hpp), driven with a fake clock:
// each case builds the pool's workers as the supervisor would see them and steps time.
#include <catch2/catch.hpp>

#include <algorithm>

#include "pools/scaling_policy.hpp"

using namespace fastmd::daemon::pools;
using namespace std::chrono_literals;

namespace {

// A pool under test: its workers, a clock, and the policy; apply() does what the supervisor
// would with a decision (new workers start, stopped ones go).
struct FakePool {
  PoolView view;
  ScalingPolicy policy;
  ScalingClock::time_point now{std::chrono::hours(1)};
  std::uint64_t next_id = 1;

  explicit FakePool(ScalingRules rules) { view.rules = rules; }

  WorkerView& add(WorkerPhase phase, std::uint32_t concurrency = 1) {
    WorkerView worker;
    worker.id = next_id++;
    worker.phase = phase;
    worker.concurrency = concurrency;
    worker.load_changed_at = now;
    view.workers.push_back(worker);
    return view.workers.back();
  }

  WorkerView& worker(std::uint64_t id) {
    auto it = std::find_if(view.workers.begin(), view.workers.end(),
                           [&](const WorkerView& w) { return w.id == id; });
    REQUIRE(it != view.workers.end());
    return *it;
  }

  void report(std::uint64_t id, std::uint32_t in_flight, std::uint64_t served = 0) {
    WorkerView& w = worker(id);
    if (w.in_flight != in_flight || w.served != served) w.load_changed_at = now;
    w.in_flight = in_flight;
    w.served = served;
  }

  // Every ready worker at its concurrency (saturated) or at 0 (idle).
  void load_all(bool saturated) {
    for (WorkerView& w : view.workers) {
      if (w.phase == WorkerPhase::ready) report(w.id, saturated ? w.concurrency : 0, w.served);
    }
  }

  void make_ready() {
    for (WorkerView& w : view.workers) {
      if (w.phase == WorkerPhase::starting) {
        w.phase = WorkerPhase::ready;
        w.load_changed_at = now;
      }
    }
  }

  ScalingDecision tick(std::chrono::milliseconds step = 100ms) {
    now += step;
    ScalingDecision decision = policy.decide(view, now);
    for (unsigned i = 0; i < decision.start; ++i) add(WorkerPhase::starting);
    for (std::uint64_t id : decision.stop) worker(id).phase = WorkerPhase::draining;
    for (std::uint64_t id : decision.recycle) worker(id).phase = WorkerPhase::draining;
    std::erase_if(view.workers,
                  [](const WorkerView& w) { return w.phase == WorkerPhase::draining; });
    return decision;
  }

  unsigned count(WorkerPhase phase) const {
    return static_cast<unsigned>(
        std::count_if(view.workers.begin(), view.workers.end(),
                      [&](const WorkerView& w) { return w.phase == phase; }));
  }
};

ScalingRules rules(unsigned min, unsigned max, std::chrono::seconds idle_stop = 300s,
                   std::uint64_t max_requests = 0) {
  ScalingRules r;
  r.min = min;
  r.max = max;
  r.idle_stop = idle_stop;
  r.max_requests = max_requests;
  return r;
}

}  // namespace

TEST_CASE("a pool starts one more worker when all are saturated for the sustain time") {
  FakePool pool(rules(1, 4));
  pool.add(WorkerPhase::ready, 2);
  pool.load_all(true);
  // Saturation is first seen at the first tick; one more starts once it lasted 500 ms.
  for (int i = 0; i < 5; ++i) REQUIRE(pool.tick().empty());
  const ScalingDecision decision = pool.tick();
  CHECK(decision.start == 1);
  CHECK(decision.stop.empty());
  CHECK_FALSE(decision.why.empty());
  CHECK(pool.count(WorkerPhase::starting) == 1);
}

TEST_CASE("a worker's concurrency is its largest method concurrency, not their sum") {
  // fastmd-worker-md --concurrency 1: three methods sharing one handler thread.
  const std::vector<fastmd::proto::MethodSpec> one_thread{
      {"transform", 1}, {"echo", 1}, {"length", 1}};
  CHECK(worker_concurrency(one_thread) == 1);
  CHECK(worker_concurrency({{"transform", 4}, {"echo", 4}, {"length", 4}}) == 4);
  CHECK(worker_concurrency({{"slow", 1}, {"fast", 8}}) == 8);
  CHECK(worker_concurrency({}) == 1);

  // So one call running and one queued on it saturate the pool, which then grows.
  FakePool pool(rules(1, 2));
  pool.add(WorkerPhase::ready, worker_concurrency(one_thread));
  pool.report(1, 2);
  for (int i = 0; i < 5; ++i) REQUIRE(pool.tick().empty());
  CHECK(pool.tick().start == 1);
}

TEST_CASE("a short burst of saturation starts no worker") {
  FakePool pool(rules(1, 4));
  pool.add(WorkerPhase::ready);
  for (int round = 0; round < 20; ++round) {
    // Saturated for 400 ms, then a 100 ms break: never 500 ms in one stretch.
    pool.load_all(true);
    for (int i = 0; i < 4; ++i) REQUIRE(pool.tick().start == 0);
    pool.load_all(false);
    REQUIRE(pool.tick().start == 0);
  }
  CHECK(pool.view.workers.size() == 1);
}

TEST_CASE("a pool does not start a second worker while the first one is still starting") {
  FakePool pool(rules(1, 4));
  pool.add(WorkerPhase::ready);
  pool.load_all(true);
  REQUIRE(pool.tick(600ms).empty());  // saturation first seen
  REQUIRE(pool.tick(600ms).start == 1);
  // The new worker takes 2 s to say hello; the old one stays saturated all that time.
  for (int i = 0; i < 20; ++i) REQUIRE(pool.tick().start == 0);
  pool.make_ready();
  pool.load_all(true);
  // Ready and saturated at once: the next start still waits a full sustain time.
  for (int i = 0; i < 5; ++i) REQUIRE(pool.tick().start == 0);
  CHECK(pool.tick().start == 1);
}

TEST_CASE("a pool never grows above max however long it is saturated") {
  FakePool pool(rules(0, 3));
  pool.add(WorkerPhase::ready);
  for (int i = 0; i < 200; ++i) {
    pool.make_ready();
    pool.load_all(true);
    pool.tick();
    REQUIRE(pool.view.workers.size() <= 3);
  }
  CHECK(pool.count(WorkerPhase::ready) == 3);
}

TEST_CASE("idle workers are stopped after idle-stop-s, longest idle first, down to min") {
  FakePool pool(rules(1, 4, 10s));
  const std::uint64_t a = pool.add(WorkerPhase::ready).id;
  const std::uint64_t b = pool.add(WorkerPhase::ready).id;
  const std::uint64_t c = pool.add(WorkerPhase::ready).id;
  pool.report(a, 1);
  pool.report(b, 1);
  pool.report(c, 1);
  pool.tick(1s);
  pool.report(b, 0);  // b idle first, then c; a stays busy
  pool.tick(2s);
  pool.report(c, 0);
  // 9.9 s after b went idle nothing stops yet.
  REQUIRE(pool.tick(7900ms).empty());
  const ScalingDecision first = pool.tick(200ms);
  CHECK(first.stop == std::vector<std::uint64_t>{b});
  const ScalingDecision second = pool.tick(2s);
  CHECK(second.stop == std::vector<std::uint64_t>{c});
  CHECK(pool.view.workers.size() == 1);
  CHECK(pool.view.workers.front().id == a);
}

TEST_CASE("idle stop never takes a pool below min") {
  FakePool pool(rules(2, 4, 5s));
  for (int i = 0; i < 4; ++i) pool.add(WorkerPhase::ready);
  const ScalingDecision decision = pool.tick(6s);
  CHECK(decision.stop.size() == 2);
  for (int i = 0; i < 100; ++i) REQUIRE(pool.tick(10s).stop.empty());
  CHECK(pool.count(WorkerPhase::ready) == 2);
}

TEST_CASE("a worker whose load is unknown is never stopped as idle, while a reporting one is") {
  FakePool pool(rules(0, 4, 5s, 10));
  const std::uint64_t silent = pool.add(WorkerPhase::ready).id;
  pool.worker(silent).load_known = false;  // its hello had no reports_load
  const std::uint64_t reporting = pool.add(WorkerPhase::ready).id;
  const ScalingDecision decision = pool.tick(6s);
  CHECK(decision.stop == std::vector<std::uint64_t>{reporting});
  for (int i = 0; i < 50; ++i) REQUIRE(pool.tick(std::chrono::hours(1)).empty());
  REQUIRE(pool.view.workers.size() == 1);
  CHECK(pool.view.workers.front().id == silent);
}

TEST_CASE("a worker whose load is unknown is never recycled by max-requests") {
  FakePool pool(rules(1, 2, 0s, 1000));
  const std::uint64_t silent = pool.add(WorkerPhase::ready).id;
  pool.report(silent, 0, 5000);  // whatever it might look like, it is not known
  pool.worker(silent).load_known = false;
  for (int i = 0; i < 30; ++i) REQUIRE(pool.tick().empty());
  CHECK(pool.count(WorkerPhase::ready) == 1);
}

TEST_CASE("a pool is filled up to min when workers are missing") {
  FakePool pool(rules(3, 4));
  pool.add(WorkerPhase::ready);
  CHECK(pool.tick().start == 2);
  CHECK(pool.tick().start == 0);  // the two are starting: counted
}

TEST_CASE(
    "an empty on-demand pool starts one worker for a waiting client, and stops it when idle") {
  FakePool pool(rules(0, 4, 30s));
  REQUIRE(pool.tick().empty());  // nobody asked
  pool.view.demand = true;
  CHECK(pool.tick().start == 1);
  CHECK(pool.tick().start == 0);
  pool.make_ready();
  pool.view.demand = false;
  REQUIRE(pool.tick(29s).empty());
  CHECK(pool.tick(2s).stop.size() == 1);
  CHECK(pool.view.workers.empty());
}

TEST_CASE("idle-stop-s 0 keeps idle workers forever") {
  FakePool pool(rules(0, 4, 0s));
  pool.add(WorkerPhase::ready);
  pool.add(WorkerPhase::ready);
  for (int i = 0; i < 50; ++i) REQUIRE(pool.tick(std::chrono::hours(1)).empty());
}

TEST_CASE("a worn worker is drained only after its replacement is ready") {
  FakePool pool(rules(1, 2, 300s, 1000));
  const std::uint64_t old = pool.add(WorkerPhase::ready).id;
  pool.report(old, 1, 999);
  REQUIRE(pool.tick().empty());
  pool.report(old, 1, 1000);
  const ScalingDecision asked = pool.tick();
  CHECK(asked.start == 1);
  CHECK(asked.recycle.empty());
  // Until the replacement says hello the old worker keeps serving, however long that takes.
  for (int i = 0; i < 30; ++i) {
    const ScalingDecision waiting = pool.tick();
    REQUIRE(waiting.start == 0);
    REQUIRE(waiting.recycle.empty());
    REQUIRE(pool.count(WorkerPhase::ready) == 1);
  }
  pool.make_ready();
  const ScalingDecision swapped = pool.tick();
  CHECK(swapped.recycle == std::vector<std::uint64_t>{old});
  CHECK(swapped.start == 0);
  CHECK(pool.count(WorkerPhase::ready) == 1);
  CHECK(pool.view.workers.front().id != old);
}

TEST_CASE("a replacement that dies before it is ready is asked for again") {
  FakePool pool(rules(1, 2, 300s, 10));
  const std::uint64_t old = pool.add(WorkerPhase::ready).id;
  pool.report(old, 0, 10);
  REQUIRE(pool.tick().start == 1);
  std::erase_if(pool.view.workers,
                [](const WorkerView& w) { return w.phase == WorkerPhase::starting; });
  CHECK(pool.tick().start == 1);
  pool.make_ready();
  CHECK(pool.tick().recycle == std::vector<std::uint64_t>{old});
}

TEST_CASE("worn workers are recycled one at a time, so the pool never runs empty") {
  FakePool pool(rules(3, 3, 300s, 100));
  for (int i = 0; i < 3; ++i) pool.report(pool.add(WorkerPhase::ready).id, 0, 500);
  unsigned recycled = 0;
  for (int i = 0; i < 30 && recycled < 3; ++i) {
    const ScalingDecision decision = pool.tick();
    REQUIRE(decision.start <= 1);
    REQUIRE(decision.recycle.size() <= 1);
    recycled += static_cast<unsigned>(decision.recycle.size());
    REQUIRE(pool.count(WorkerPhase::ready) >= 2);  // at most one is ever between old and new
    REQUIRE(pool.view.workers.size() <= 4);        // max + 1 while a replacement starts
    pool.make_ready();
  }
  CHECK(recycled == 3);
  for (const WorkerView& w : pool.view.workers) CHECK(w.served == 0);
}

TEST_CASE("a pool under load that swings between busy and idle settles without flapping") {
  FakePool pool(rules(1, 4, 60s));
  pool.add(WorkerPhase::ready);
  unsigned starts = 0;
  unsigned stops = 0;
  // 10 minutes: 20 s saturated, 20 s idle, over and over (each idle spell is shorter than
  // idle-stop-s, so the workers started in the first busy spell are kept).
  for (int second = 0; second < 600; ++second) {
    const bool busy = (second / 20) % 2 == 0;
    for (int i = 0; i < 10; ++i) {
      pool.make_ready();
      pool.load_all(busy);
      const ScalingDecision decision = pool.tick();
      starts += decision.start;
      stops += static_cast<unsigned>(decision.stop.size());
    }
  }
  CHECK(starts == 3);  // up to max once
  CHECK(stops == 0);
  CHECK(pool.count(WorkerPhase::ready) == 4);
}
