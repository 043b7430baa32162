// The worker's record of a channel's unanswered request ids (sdk-cpp/src/ipc/in_flight_ids.hpp):
// a repeated id is refused whatever order the ids come in, and an answered id may come again.
#include <cstdint>
#include <initializer_list>
#include <random>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "in_flight_ids.hpp"

using fastmd::ipc::detail::InFlightIds;

namespace {

// Adds each id in turn: whether it was taken (true) or refused as in flight (false).
std::vector<bool> add_each(InFlightIds& ids, std::initializer_list<std::uint64_t> each) {
  std::vector<bool> taken;
  for (std::uint64_t id : each) taken.push_back(ids.add(id));
  return taken;
}

using Taken = std::vector<bool>;

}  // namespace

TEST_CASE("an id still in flight is refused, and taken again once answered") {
  InFlightIds ids;
  CHECK(add_each(ids, {1, 2, 3, 2, 3}) == Taken{true, true, true, false, false});
  ids.remove(2);
  CHECK(add_each(ids, {2, 1}) == Taken{true, false});
}

TEST_CASE("ids that do not rise are still told apart") {
  InFlightIds ids;
  CHECK(add_each(ids, {10, 5, 7, 5, 7, 10}) == Taken{true, true, true, false, false, false});
  // The highest answered first: a lower id never sent is new, a lower one in flight is not.
  ids.remove(10);
  CHECK(add_each(ids, {9, 9, 5, 10}) == Taken{true, false, false, true});
}

TEST_CASE("once every id is answered, any id is new again, 0 included") {
  InFlightIds ids;
  CHECK(add_each(ids, {0, 0}) == Taken{true, false});
  ids.remove(0);
  ids.remove(42);  // never in flight: ignored
  CHECK(add_each(ids, {0}) == Taken{true});
  ids.remove(0);
  CHECK(add_each(ids, {7}) == Taken{true});
  ids.remove(7);
  CHECK(add_each(ids, {3}) == Taken{true});
}

TEST_CASE("ids answered oldest first leave the younger ones in flight") {
  InFlightIds ids;
  CHECK(add_each(ids, {1, 2, 3, 4}) == Taken{true, true, true, true});
  ids.remove(1);
  ids.remove(2);
  CHECK(add_each(ids, {1, 2, 3, 4}) == Taken{true, true, false, false});
  ids.remove(3);
  CHECK(add_each(ids, {3, 4}) == Taken{true, false});
}

TEST_CASE("a long run of ids in any order, added and answered, agrees with a plain set") {
  InFlightIds ids;
  std::set<std::uint64_t> expected;
  std::mt19937_64 random(7);
  // Ids from a narrow range (many repeats and answers of ids in flight), a rising count (a
  // client's numbering) and any 64-bit value, as many as a channel may have in flight.
  std::uint64_t rising = 0;
  for (int step = 0; step < 200'000; ++step) {
    const unsigned pick = static_cast<unsigned>(random() % 3);
    const std::uint64_t id = pick == 0 ? random() % 3000 : pick == 1 ? ++rising : random();
    const bool answer = expected.size() >= 1024 || random() % 2 == 0;
    if (answer && !expected.empty()) {
      // Answer one in flight (any of them), and now and then one that is not.
      auto it = expected.lower_bound(random());
      const std::uint64_t answered = it == expected.end() ? *expected.begin() : *it;
      ids.remove(answered);
      expected.erase(answered);
      ids.remove(id);
      expected.erase(id);
    } else {
      INFO("step " << step << ", id " << id);
      REQUIRE(ids.add(id) == expected.insert(id).second);
    }
  }
  for (const std::uint64_t id : expected) CHECK_FALSE(ids.add(id));
}
