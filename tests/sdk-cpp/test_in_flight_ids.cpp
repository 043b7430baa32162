// The worker's record of a channel's unanswered request ids (sdk-cpp/src/ipc/in_flight_ids.hpp):
// a repeated id is refused whatever order the ids come in, and an answered id may come again.
#include <catch2/catch.hpp>

#include "in_flight_ids.hpp"

using fastmd::ipc::detail::InFlightIds;

TEST_CASE("an id still in flight is refused, and taken again once answered") {
  InFlightIds ids;
  CHECK(ids.add(1));
  CHECK(ids.add(2));
  CHECK(ids.add(3));
  CHECK_FALSE(ids.add(2));
  CHECK_FALSE(ids.add(3));
  ids.remove(2);
  CHECK(ids.add(2));
  CHECK_FALSE(ids.add(1));
}

TEST_CASE("ids that do not rise are still told apart") {
  InFlightIds ids;
  CHECK(ids.add(10));
  CHECK(ids.add(5));
  CHECK(ids.add(7));
  CHECK_FALSE(ids.add(5));
  CHECK_FALSE(ids.add(7));
  CHECK_FALSE(ids.add(10));
  // The highest answered first: a lower id that was never sent is new, a lower one in flight not.
  ids.remove(10);
  CHECK(ids.add(9));
  CHECK_FALSE(ids.add(9));
  CHECK_FALSE(ids.add(5));
  CHECK(ids.add(10));
}

TEST_CASE("once every id is answered, any id is new again, 0 included") {
  InFlightIds ids;
  CHECK(ids.add(0));
  CHECK_FALSE(ids.add(0));
  ids.remove(0);
  ids.remove(42);  // never in flight: ignored
  CHECK(ids.add(0));
  ids.remove(0);
  CHECK(ids.add(7));
  ids.remove(7);
  CHECK(ids.add(3));
}
