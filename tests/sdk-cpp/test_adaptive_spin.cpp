// How long a waiting thread spins (sdk-cpp/src/ipc/adaptive_spin.hpp): a given budget is kept
// as it is, 0 never spins, and the default learns from the last waits — nothing once they are
// slow, twice the usual wait (within the policy's bounds) while they are quick.
#include <catch2/catch.hpp>

#include "adaptive_spin.hpp"
#include "fastmd/ipc/call_policy.hpp"

using fastmd::ipc::detail::AdaptiveSpin;
using namespace std::chrono_literals;
namespace policy = fastmd::ipc::policy;

namespace {

using Waits = std::array<std::uint32_t, AdaptiveSpin::kWindow>;

}  // namespace

TEST_CASE("a spin budget of 0 never polls, and a given budget is spun whatever the waits were") {
  AdaptiveSpin never(0us);
  int polls = 0;
  CHECK_FALSE(never.spin(AdaptiveSpin::Clock::now(), [&] { return ++polls > 0; }));
  CHECK(polls == 0);

  AdaptiveSpin fixed(300us);
  for (int i = 0; i < 16; ++i) fixed.slept(AdaptiveSpin::Clock::now() - 1s);
  CHECK(fixed.budget_now() == 300us);
  // It polls until ready() holds, and says so.
  polls = 0;
  CHECK(fixed.spin(AdaptiveSpin::Clock::now(), [&] { return ++polls == 3; }));
  CHECK(polls == 3);
  // It gives up once its budget is spent.
  const auto began = AdaptiveSpin::Clock::now();
  CHECK_FALSE(fixed.spin(began, [] { return false; }));
  CHECK(AdaptiveSpin::Clock::now() - began >= 300us);
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
}

TEST_CASE("the default does not spin once answers come more slowly than its most") {
  const auto most = static_cast<std::uint32_t>(policy::kSpinLearnedMax.count());
  CHECK(AdaptiveSpin::learned_budget(
            {most + 1, most + 1, most + 1, most + 1, most + 1, most + 1, 1, 1}) == 0us);
  // Learned from real waits: eight that slept a millisecond each.
  AdaptiveSpin learned(std::nullopt);
  for (std::size_t i = 0; i < AdaptiveSpin::kWindow; ++i) {
    learned.slept(AdaptiveSpin::Clock::now() - 1ms);
  }
  CHECK(learned.budget_now() == 0us);
  int polls = 0;
  CHECK_FALSE(learned.spin(AdaptiveSpin::Clock::now(), [&] { return ++polls > 0; }));
  CHECK(polls == 0);
}

TEST_CASE("the default spins again once waits become quick, unless no core is free") {
  AdaptiveSpin learned(std::nullopt);
  for (std::size_t i = 0; i < AdaptiveSpin::kWindow; ++i) {
    learned.slept(AdaptiveSpin::Clock::now() - 1ms);
  }
  REQUIRE(learned.budget_now() == 0us);
  // A peer that became quick: its waits (wake-ups included) are learned as they end.
  for (std::size_t i = 0; i < AdaptiveSpin::kWindow; ++i) learned.slept(AdaptiveSpin::Clock::now());
  const auto budget = learned.budget_now();
  // On a machine whose cores are all taken (a loaded test run) it rightly stays 0.
  CHECK((budget == policy::kSpinLearnedMin || budget == 0us));
}
