// Per-uid quotas as charges that give themselves back: a session's place and its queued bytes
// are counted while their charge objects live, whichever way the session ends.
#include <catch2/catch.hpp>

#include <utility>

#include "quotas.hpp"

using fastmd::daemon::Limits;
using fastmd::daemon::QueuedBytesCharge;
using fastmd::daemon::Quotas;
using fastmd::daemon::SessionCharge;

namespace {

constexpr uid_t kAlice = 1000;
constexpr uid_t kBob = 1001;

std::uint32_t sessions_of(const Quotas& quotas, uid_t uid) {
  auto it = quotas.usage().find(uid);
  return it == quotas.usage().end() ? 0 : it->second.sessions;
}

std::uint64_t queued_of(const Quotas& quotas, uid_t uid) {
  auto it = quotas.usage().find(uid);
  return it == quotas.usage().end() ? 0 : it->second.queued_bytes;
}

}  // namespace

TEST_CASE("a session charge counts its uid until it is reset or destroyed, once") {
  Limits limits;
  Quotas quotas(limits);
  {
    SessionCharge first = quotas.open_session(kAlice);
    SessionCharge second = quotas.open_session(kAlice);
    CHECK(sessions_of(quotas, kAlice) == 2);
    CHECK(quotas.total_sessions() == 2);

    SessionCharge moved = std::move(first);
    first.reset();  // moved from: gives nothing back
    CHECK(sessions_of(quotas, kAlice) == 2);

    second.reset();
    second.reset();
    CHECK(sessions_of(quotas, kAlice) == 1);
  }
  CHECK(quotas.total_sessions() == 0);
  CHECK(quotas.usage().empty());
}

TEST_CASE("a uid over its session limit is out of limits until one of its charges goes") {
  Limits limits;
  limits.max_sessions_per_uid = 1;
  Quotas quotas(limits);
  SessionCharge one = quotas.open_session(kAlice);
  CHECK(quotas.sessions_within_limits(kAlice));
  {
    SessionCharge two = quotas.open_session(kAlice);
    CHECK_FALSE(quotas.sessions_within_limits(kAlice));
    CHECK(quotas.sessions_within_limits(kBob));
  }
  CHECK(quotas.sessions_within_limits(kAlice));
}

TEST_CASE("queued bytes past the per-uid limit are refused and nothing is charged") {
  Limits limits;
  limits.max_queued_bytes_per_uid = 100;
  Quotas quotas(limits);
  QueuedBytesCharge a = quotas.queued_bytes(kAlice);
  QueuedBytesCharge b = quotas.queued_bytes(kAlice);
  QueuedBytesCharge other = quotas.queued_bytes(kBob);
  CHECK(a.add(60));
  CHECK_FALSE(b.add(41));
  CHECK(b.bytes() == 0);
  CHECK(b.add(40));
  CHECK(queued_of(quotas, kAlice) == 100);
  CHECK(other.add(100));  // another uid's limit is its own
  a.remove(1000);         // gives back at most what it holds
  CHECK(a.bytes() == 0);
  CHECK(queued_of(quotas, kAlice) == 40);
}

TEST_CASE(
    "a queued-bytes charge gives back what it still holds when it is destroyed or moved over") {
  Limits limits;
  Quotas quotas(limits);
  {
    QueuedBytesCharge charge = quotas.queued_bytes(kAlice);
    REQUIRE(charge.add(500));
    QueuedBytesCharge moved = std::move(charge);
    CHECK(moved.bytes() == 500);
    CHECK(charge.bytes() == 0);
    QueuedBytesCharge replaced = quotas.queued_bytes(kAlice);
    REQUIRE(replaced.add(7));
    replaced = std::move(moved);  // the 7 bytes go back, the 500 move in
    CHECK(queued_of(quotas, kAlice) == 500);
  }
  CHECK(queued_of(quotas, kAlice) == 0);
  CHECK(quotas.usage().empty());
}
