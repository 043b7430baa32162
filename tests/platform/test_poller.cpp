// The poller (fastmd/platform/poller.hpp) and the wake-up (wake_up.hpp), through the
// implementation this build links (epoll and eventfd, or poll() and pipes): readiness with
// tags, level-triggered; changes from another thread during a wait; wake-ups; fd() for an
// outer event loop; fairness when more fds are ready than a wait takes.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <set>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "fastmd/platform/poller.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/platform/wake_up.hpp"

using namespace fastmd::platform;

namespace {

using Ready = Poller::Ready;
constexpr Interest kInput{.input = true};
constexpr Interest kOutput{.output = true};

std::pair<UniqueFd, UniqueFd> socket_pair() {
  auto pair = make_socketpair();
  REQUIRE(pair.ok());
  return std::move(*pair);
}

void send_byte(const UniqueFd& fd) {
  const char byte = 'x';
  REQUIRE(::write(fd.get(), &byte, 1) == 1);
}

void read_byte(const UniqueFd& fd) {
  char byte;
  REQUIRE(::read(fd.get(), &byte, 1) == 1);
}

bool readable(int fd, int timeout_ms) {
  pollfd watch{fd, POLLIN, 0};
  return ::poll(&watch, 1, timeout_ms) == 1 && (watch.revents & POLLIN) != 0;
}

// The tags of the fds among the first `count` entries (wake-ups, with a null tag, left out).
std::vector<void*> fd_tags(std::span<const Ready> ready, int count) {
  std::vector<void*> tags;
  for (int i = 0; i < count; ++i) {
    if (ready[static_cast<std::size_t>(i)].tag)
      tags.push_back(ready[static_cast<std::size_t>(i)].tag);
  }
  return tags;
}

Poller open_poller() {
  auto poller = Poller::open();
  REQUIRE(poller.ok());
  return std::move(*poller);
}

}  // namespace

TEST_CASE("an fd watched for input is reported with its tag while readable, and not once unwatched",
          "[poller]") {
  Poller poller = open_poller();
  auto [ours, peer] = socket_pair();
  int tag = 0;
  poller.change(ours.get(), &tag, {}, kInput);
  std::array<Ready, 8> ready;
  CHECK(poller.wait(ready, 0) == 0);

  send_byte(peer);
  REQUIRE(poller.wait(ready, 2000) == 1);
  CHECK(ready[0].tag == &tag);
  CHECK(ready[0].input);
  CHECK_FALSE(ready[0].output);
  // Level-triggered: still there until it is read.
  CHECK(poller.wait(ready, 0) == 1);
  read_byte(ours);
  CHECK(poller.wait(ready, 0) == 0);

  send_byte(peer);
  poller.change(ours.get(), &tag, kInput, {});
  CHECK(poller.wait(ready, 50) == 0);
}

TEST_CASE("output interest reports a writable fd, and a hang-up counts as input", "[poller]") {
  Poller poller = open_poller();
  auto [ours, peer] = socket_pair();
  int tag = 0;
  poller.change(ours.get(), &tag, {}, kOutput);
  std::array<Ready, 8> ready;
  REQUIRE(poller.wait(ready, 2000) == 1);
  CHECK(ready[0].tag == &tag);
  CHECK(ready[0].output);
  CHECK_FALSE(ready[0].input);

  poller.change(ours.get(), &tag, kOutput, kInput);
  CHECK(poller.wait(ready, 0) == 0);
  peer.reset();
  REQUIRE(poller.wait(ready, 2000) == 1);
  CHECK(ready[0].input);
}

TEST_CASE("wake() from another thread ends a wait at once, reported as one entry with a null tag",
          "[poller]") {
  Poller poller = open_poller();
  auto [ours, peer] = socket_pair();
  int tag = 0;
  poller.change(ours.get(), &tag, {}, kInput);
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    poller.wake();
  });
  std::array<Ready, 8> ready;
  const auto start = std::chrono::steady_clock::now();
  const int count = poller.wait(ready, 60'000);
  const auto waited = std::chrono::steady_clock::now() - start;
  waker.join();
  REQUIRE(count == 1);
  CHECK(ready[0].tag == nullptr);
  CHECK(waited < std::chrono::seconds(30));  // woken, not timed out
  // Consumed: the next wait does not end early.
  CHECK(poller.wait(ready, 20) == 0);
}

TEST_CASE("an fd another thread adds during a wait is reported by that wait", "[poller]") {
  Poller poller = open_poller();
  auto [ours, peer] = socket_pair();
  send_byte(peer);  // readable before it is watched
  int tag = 0;
  std::thread adder([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    poller.change(ours.get(), &tag, {}, kInput);
  });
  std::array<Ready, 8> ready;
  std::vector<void*> tags;
  const auto start = std::chrono::steady_clock::now();
  // A poll()-based poller returns with a wake-up to copy the set again; the next wait has it.
  for (int round = 0; round < 2 && tags.empty(); ++round) {
    tags = fd_tags(ready, poller.wait(ready, 60'000));
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  adder.join();
  REQUIRE(tags.size() == 1);
  CHECK(tags[0] == &tag);
  CHECK(waited < std::chrono::seconds(30));  // reached the wait, not found by a timeout
}

TEST_CASE("fd() is readable for an outer loop while the set has something, quiet once taken",
          "[poller]") {
  Poller poller = open_poller();
  auto [ours, peer] = socket_pair();
  int tag = 0;
  poller.change(ours.get(), &tag, {}, kInput);
  const int outer = poller.fd();
  REQUIRE(outer >= 0);
  CHECK_FALSE(readable(outer, 50));

  send_byte(peer);
  REQUIRE(readable(outer, 2000));
  std::array<Ready, 8> ready;
  CHECK(poller.wait(ready, 0) == 1);
  // Not read yet: the outer loop is told again.
  CHECK(readable(outer, 2000));
  read_byte(ours);
  CHECK(poller.wait(ready, 0) == 0);
  CHECK_FALSE(readable(outer, 100));

  poller.wake();
  REQUIRE(readable(outer, 2000));
  REQUIRE(poller.wait(ready, 0) == 1);
  CHECK(ready[0].tag == nullptr);
  CHECK_FALSE(readable(outer, 100));
}

TEST_CASE("an fd added while the outer loop's wait takes the wake-ups still reaches the outer loop",
          "[poller]") {
  // The wait of a round the outer loop runs for another reason (a timer) may take the wake-up
  // a change sent; the outer loop must hear of the new fd all the same, every time.
  Poller poller = open_poller();
  const int outer = poller.fd();
  REQUIRE(outer >= 0);
  std::array<Ready, 8> ready;
  int tag = 0;
  for (int i = 0; i < 200; ++i) {
    auto [ours, peer] = socket_pair();
    send_byte(peer);
    poller.change(ours.get(), &tag, {}, kInput);
    (void)poller.wait(ready, 0);
    // Not read: still ready, so the outer loop must be told.
    REQUIRE(readable(outer, 5000));
    REQUIRE(fd_tags(ready, poller.wait(ready, 0)).size() == 1);
    poller.change(ours.get(), &tag, kInput, {});
  }
}

TEST_CASE("when more fds are ready than a wait takes, successive waits report each of them",
          "[poller]") {
  Poller poller = open_poller();
  std::vector<std::pair<UniqueFd, UniqueFd>> pairs;
  std::array<int, 3> tags{};
  for (int& tag : tags) {
    pairs.push_back(socket_pair());
    poller.change(pairs.back().first.get(), &tag, {}, kInput);
    send_byte(pairs.back().second);
  }
  std::set<void*> seen;
  std::array<Ready, 1> one;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(poller.wait(one, 2000) == 1);
    seen.insert(one[0].tag);
  }
  CHECK(seen.size() == 3);
  // And a wait with room for all reports each once.
  std::array<Ready, 8> room;
  const std::vector<void*> all = fd_tags(room, poller.wait(room, 2000));
  CHECK(all.size() == 3);
  CHECK(std::set<void*>(all.begin(), all.end()).size() == 3);
}

TEST_CASE("a wake-up is readable from notify() until drain(), however often it was notified",
          "[poller]") {
  auto opened = WakeUp::open();
  REQUIRE(opened.ok());
  const WakeUp& wake = *opened;
  CHECK_FALSE(readable(wake.fd(), 0));
  for (int i = 0; i < 100'000; ++i) wake.notify();  // never blocks, even past a pipe's size
  CHECK(readable(wake.fd(), 0));
  wake.drain();
  CHECK_FALSE(readable(wake.fd(), 0));
  CHECK(::fcntl(wake.fd(), F_GETFD) & FD_CLOEXEC);
}
