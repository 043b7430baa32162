// How long a waiting thread spins (sdk-cpp/src/ipc/adaptive_spin.hpp): a given budget is kept
// as it is, 0 never spins, and the default learns from the last waits — nothing once they are
// slow but a short probe now and then, twice the usual wait (within the policy's bounds) while
// they are quick, and nothing at all while no core is free.
#include <catch2/catch.hpp>

#include "adaptive_spin.hpp"
#include "fastmd/ipc/call_policy.hpp"

using fastmd::ipc::detail::AdaptiveSpin;
using namespace std::chrono_literals;
namespace policy = fastmd::ipc::policy;

namespace {

bool free_core() {
  return true;
}
bool no_free_core() {
  return false;
}

// Learns `count` waits that each slept `waited` (whose wake-up is then `waited` too).
void learn_waits(AdaptiveSpin& spin, std::chrono::microseconds waited,
                 std::size_t count = AdaptiveSpin::kWindow) {
  for (std::size_t i = 0; i < count; ++i) spin.slept(AdaptiveSpin::Clock::now() - waited);
}

}  // namespace

TEST_CASE("a spin budget of 0 never polls, and a given budget is spun whatever the waits were") {
  AdaptiveSpin never(0us, free_core);
  int polls = 0;
  CHECK(never.budget_now() == 0us);
  CHECK_FALSE(
      never.spin(AdaptiveSpin::Clock::now(), never.budget_now(), [&] { return ++polls > 0; }));
  CHECK(polls == 0);

  AdaptiveSpin fixed(300us, no_free_core);  // a given budget asks no one
  learn_waits(fixed, 1s, 16);
  CHECK(fixed.budget_now() == 300us);
  // It polls until ready() holds, and says so.
  polls = 0;
  CHECK(fixed.spin(AdaptiveSpin::Clock::now(), 300us, [&] { return ++polls == 3; }));
  CHECK(polls == 3);
  // It gives up once its budget is spent, or as soon as stop() says so.
  const auto began = AdaptiveSpin::Clock::now();
  CHECK_FALSE(fixed.spin(began, 300us, [] { return false; }));
  CHECK(AdaptiveSpin::Clock::now() - began >= 300us);
  int stops = 0;
  CHECK_FALSE(fixed.spin(
      AdaptiveSpin::Clock::now(), 10s, [] { return false; }, [&] { return ++stops == 5; }));
  CHECK(stops == 5);
}

TEST_CASE("the default spins twice the usual wait, within the policy's bounds") {
  // Three in four waits took up to 4 µs: 8 µs, raised to the least spin.
  CHECK(AdaptiveSpin::learned_budget({1, 2, 3, 4, 4, 4, 900, 5000}) == policy::kSpinLearnedMin);
  // Up to 20 µs: 40 µs.
  CHECK(AdaptiveSpin::learned_budget({20, 3, 20, 18, 2, 20, 1000, 1000}) == 40us);
  // Up to the most: capped there.
  const auto most = static_cast<std::uint32_t>(policy::kSpinLearnedMax.count());
  CHECK(AdaptiveSpin::learned_budget({most, most, most, most, most, most, 1, 1}) ==
        policy::kSpinLearnedMax);
  // From waits as they end.
  AdaptiveSpin learned(std::nullopt, free_core);
  learn_waits(learned, 20us);
  CHECK(learned.budget_now() >= 40us);
  CHECK(learned.budget_now() <= policy::kSpinLearnedMax);
}

TEST_CASE("the default does not spin once answers come more slowly than its most, but probes") {
  const auto most = static_cast<std::uint32_t>(policy::kSpinLearnedMax.count());
  CHECK(AdaptiveSpin::learned_budget(
            {most + 1, most + 1, most + 1, most + 1, most + 1, most + 1, 1, 1}) == 0us);
  // Eight waits that slept a millisecond each: no spin, but the least one every kProbeEvery.
  AdaptiveSpin learned(std::nullopt, free_core);
  learn_waits(learned, 1ms);
  std::size_t probes = 0;
  for (std::uint32_t i = 0; i < 4 * AdaptiveSpin::kProbeEvery; ++i) {
    const auto budget = learned.budget_now();
    CHECK((budget == 0us || budget == policy::kSpinLearnedMin));
    if (budget > 0us) ++probes;
  }
  CHECK(probes == 4);
  // A probe that found its answer quickly, six times: the spin is back.
  learn_waits(learned, 2us, 6);
  CHECK(learned.budget_now() == policy::kSpinLearnedMin);
}

TEST_CASE("the default never spins while no core is free, however quick the waits") {
  AdaptiveSpin learned(std::nullopt, no_free_core);
  learn_waits(learned, 2us);
  for (std::uint32_t i = 0; i < 2 * AdaptiveSpin::kProbeEvery; ++i) {
    CHECK(learned.budget_now() == 0us);
  }
  int polls = 0;
  CHECK_FALSE(
      learned.spin(AdaptiveSpin::Clock::now(), learned.budget_now(), [&] { return ++polls > 0; }));
  CHECK(polls == 0);
}
