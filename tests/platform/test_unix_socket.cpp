// The listening socket's path: a peer that waits for the file to appear and connects at once
// is never refused (the file appears only once the socket accepts), a path that exists is
// refused and left as it was, and nothing else is left in the directory.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <catch2/catch.hpp>

#include "daemon_process.hpp"
#include "fastmd/platform/unix_socket.hpp"

using namespace fastmd::platform;
namespace fs = std::filesystem;

namespace {

// A raw connect, so that the refusal itself (ECONNREFUSED) is what the test sees.
int connect_errno(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0
             ? 0
             : errno;
}

}  // namespace

TEST_CASE("a peer that connects as soon as the socket's path appears is never refused") {
  const fastmd::test::TempDir temp;
  const fs::path dir = temp.path();
  const std::string path = (dir / "ipcd.sock").string();

  constexpr int kRounds = 5000;
  std::atomic<int> round{0};
  std::atomic<int> tried{-1};  // the last round the peer connected in
  std::atomic<int> refused{0};
  std::atomic<bool> done{false};
  // Polls for the path without pausing and connects the moment it is there, once per round.
  std::thread peer([&] {
    int seen = -1;
    while (!done.load()) {
      const int now = round.load();
      if (now == seen || !fs::exists(path)) continue;
      if (connect_errno(path) == ECONNREFUSED) refused.fetch_add(1);
      seen = now;
      tried.store(now);
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    round.store(i);
    auto listening = listen_unix(path);
    REQUIRE(listening);
    // The peer connects once in every round (bounded: a peer stuck fails the count below).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (tried.load() < i && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    fs::remove(path);
  }
  done.store(true);
  peer.join();
  CHECK(tried.load() == kRounds - 1);
  CHECK(refused.load() == 0);
  CHECK(fs::is_empty(dir));
}

TEST_CASE(
    "listening on a path that exists fails and leaves the path and its directory as they were") {
  const fastmd::test::TempDir temp;
  const fs::path dir = temp.path();
  const fs::path path = dir / "ipcd.sock";
  { std::ofstream(path) << "not a socket"; }
  auto listening = listen_unix(path.string());
  REQUIRE_FALSE(listening);
  CHECK(listening.error().message.find(path.string()) != std::string::npos);
  CHECK(fs::is_regular_file(path));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
}
