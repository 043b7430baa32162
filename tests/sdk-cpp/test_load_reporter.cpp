// When the worker's load reporter (sdk-cpp/src/ipc/load_reporter.hpp) sends ipc.load, driven
// with a fake clock: only on a change, a change waits one interval, never two reports within
// one interval, an idle worker is never woken, a busy one is looked at every interval.
#include <catch2/catch.hpp>

#include "load_reporter.hpp"

using fastmd::ipc::detail::kLoadReportInterval;
using fastmd::ipc::detail::LoadReporter;
using namespace std::chrono_literals;

namespace {

constexpr auto kNever = LoadReporter::Clock::time_point::max();

// The reporter and a clock: step() moves time and sends what is due (delivered unless told).
struct FakeWorker {
  LoadReporter reporter;
  LoadReporter::Clock::time_point now{std::chrono::hours(1)};
  std::vector<std::pair<std::uint32_t, std::uint64_t>> sent;

  void step(std::chrono::milliseconds by, std::uint32_t in_flight, std::uint64_t served,
            bool delivered = true) {
    now += by;
    if (auto load = reporter.due(now, in_flight, served)) {
      reporter.attempted(*load, now, delivered);
      if (delivered) sent.emplace_back(load->in_flight, load->served);
    }
  }
};

}  // namespace

TEST_CASE("an idle worker with nothing new to say is never woken and sends nothing") {
  FakeWorker worker;
  CHECK(worker.reporter.next_check(worker.now, 0, 0) == kNever);
  for (int i = 0; i < 100; ++i) worker.step(1s, 0, 0);
  CHECK(worker.sent.empty());
}

TEST_CASE("a lone call is reported once, an interval after it was first seen") {
  FakeWorker worker;
  worker.step(1ms, 1, 0);  // the request was read: in flight
  CHECK(worker.sent.empty());
  CHECK(worker.reporter.next_check(worker.now, 1, 0) == worker.now + kLoadReportInterval);
  worker.step(2ms, 0, 1);  // answered 2 ms later: still within the interval
  CHECK(worker.sent.empty());
  worker.step(kLoadReportInterval, 0, 1);
  REQUIRE(worker.sent.size() == 1);
  CHECK(worker.sent[0] == std::make_pair(0u, std::uint64_t{1}));
  CHECK(worker.reporter.next_check(worker.now, 0, 1) == kNever);
}

TEST_CASE("a busy worker reports at most once per interval however often its load changes") {
  FakeWorker worker;
  std::uint64_t served = 0;
  for (int ms = 0; ms < 10'000; ++ms) worker.step(1ms, 4, ++served);
  CHECK(worker.sent.size() <= 10'000 / kLoadReportInterval.count());
  CHECK(worker.sent.size() >= 10'000 / kLoadReportInterval.count() - 2);
  CHECK(worker.sent.back().second > served - 2 * kLoadReportInterval.count());
}

TEST_CASE("while calls are in flight and nothing changes the worker looks every interval") {
  FakeWorker worker;
  worker.step(1ms, 2, 0);
  worker.step(kLoadReportInterval, 2, 0);
  REQUIRE(worker.sent.size() == 1);
  // Nothing changes: no report, but the loop is asked to look again one interval on.
  worker.step(kLoadReportInterval, 2, 0);
  CHECK(worker.reporter.next_check(worker.now, 2, 0) == worker.now + kLoadReportInterval);
  CHECK(worker.sent.size() == 1);
}

TEST_CASE("a report that could not be sent is tried again an interval later") {
  FakeWorker worker;
  worker.step(1ms, 1, 0);
  worker.step(kLoadReportInterval, 1, 0, /*delivered=*/false);
  CHECK(worker.sent.empty());
  CHECK(worker.reporter.next_check(worker.now, 1, 0) == worker.now + kLoadReportInterval);
  worker.step(kLoadReportInterval, 1, 0);
  CHECK(worker.sent.size() == 1);
}

TEST_CASE("after a new daemon session the current load is told again") {
  FakeWorker worker;
  worker.step(1ms, 3, 7);
  worker.step(kLoadReportInterval, 3, 7);
  REQUIRE(worker.sent.size() == 1);
  worker.reporter.restart();
  worker.step(1ms, 3, 7);
  worker.step(kLoadReportInterval, 3, 7);
  CHECK(worker.sent.size() == 2);
}
