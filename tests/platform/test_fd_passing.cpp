// Tests of the platform layer: fds cross a socketpair with their frame, peer credentials
// are the kernel's, and excess fds are refused and closed, not leaked.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>

#include <catch2/catch.hpp>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/unix_socket.hpp"

using namespace fastmd::platform;

namespace {

std::size_t open_fd_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

iovec bytes_of(const char* text) {
  return iovec{const_cast<char*>(text), std::strlen(text)};
}

// A connected socketpair (a writes, b reads) and a pipe whose ends serve as fds to pass.
struct PairAndPipe {
  PairAndPipe() {
    auto pair = make_socketpair();
    REQUIRE(pair.ok());
    a = std::move(pair->first);
    b = std::move(pair->second);
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    read_end = UniqueFd(pipe_fds[0]);
    write_end = UniqueFd(pipe_fds[1]);
  }
  UniqueFd a, b, read_end, write_end;
};

}  // namespace

TEST_CASE("an fd sent with a message arrives open, CLOEXEC, and usable") {
  PairAndPipe p;
  auto& [a, b, read_end, write_end] = p;

  const iovec data = bytes_of("hello");
  const int to_send[] = {write_end.get()};
  auto sent = send_with_fds(a.get(), std::span(&data, 1), to_send);
  REQUIRE(sent.ok());
  CHECK(sent->bytes == 5);

  std::array<std::byte, 64> buffer;
  auto got = recv_with_fds(b.get(), buffer);
  REQUIRE(got.ok());
  CHECK(got->bytes == 5);
  REQUIRE(got->fds.size() == 1);
  CHECK((::fcntl(got->fds[0].get(), F_GETFD) & FD_CLOEXEC) != 0);
  REQUIRE(::write(got->fds[0].get(), "x", 1) == 1);
  char c = 0;
  REQUIRE(::read(read_end.get(), &c, 1) == 1);
  CHECK(c == 'x');
}

TEST_CASE("more fds than accepted is FD_MISMATCH, and every one of them is closed") {
  auto pair = make_socketpair();
  REQUIRE(pair.ok());
  auto [a, b] = std::move(*pair);
  const std::size_t before = open_fd_count();
  {
    const iovec data = bytes_of("x");
    const int fds[] = {0, 1, 2};
    REQUIRE(send_with_fds(a.get(), std::span(&data, 1), fds).ok());
    std::array<std::byte, 8> buffer;
    auto got = recv_with_fds(b.get(), buffer, 1);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == fastmd::proto::Errc::fd_mismatch);
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("peer credentials name this process, and EOF and would-block are told apart") {
  auto pair = make_socketpair();
  REQUIRE(pair.ok());
  auto [a, b] = std::move(*pair);
  auto credentials = peer_credentials(a.get());
  REQUIRE(credentials.ok());
  // 0 where the platform does not tell the pid (docs/platforms.md).
  CHECK(credentials->pid == (fastmd::platform::capabilities().peer_pid ? ::getpid() : 0));
  CHECK(credentials->uid == ::getuid());

  REQUIRE(set_nonblocking(b.get(), true).ok());
  std::array<std::byte, 8> buffer;
  auto empty = recv_with_fds(b.get(), buffer);
  REQUIRE(empty.ok());
  CHECK(empty->would_block);
  a.reset();
  auto eof = recv_with_fds(b.get(), buffer);
  REQUIRE(eof.ok());
  CHECK(eof->eof);
}

TEST_CASE("connecting where nothing listens is DAEMON_UNREACHABLE") {
  auto fd = connect_unix("/nonexistent-dir/fastmd.sock");
  REQUIRE_FALSE(fd.ok());
  CHECK(fd.error().code == fastmd::proto::Errc::daemon_unreachable);
}

// What PROTOCOL.md §1.1 builds its fd-to-frame rule on: fds come with the first byte they were
// sent with, one recvmsg returns bytes sent before them too, and it stops right after the
// bytes that came with them (so it never mixes two sendmsg's fds).
TEST_CASE("one recvmsg returns earlier bytes with the next sendmsg's fds and stops there") {
  PairAndPipe p;
  auto& [a, b, read_end, write_end] = p;

  iovec tail = bytes_of("end-of-N");
  iovec next = bytes_of("start-of-N+1");
  iovec after = bytes_of("N+2");
  REQUIRE(send_with_fds(a.get(), {&tail, 1}).ok());
  const int first[] = {read_end.get()};
  REQUIRE(send_with_fds(a.get(), {&next, 1}, first).ok());
  const int second[] = {write_end.get()};
  REQUIRE(send_with_fds(a.get(), {&after, 1}, second).ok());

  std::array<std::byte, 256> buffer{};
  auto got = recv_with_fds(b.get(), buffer);
  REQUIRE(got.ok());
  CHECK(std::string(reinterpret_cast<const char*>(buffer.data()), got->bytes) ==
        "end-of-Nstart-of-N+1");
  CHECK(got->fds.size() == 1);
  got = recv_with_fds(b.get(), buffer);
  REQUIRE(got.ok());
  CHECK(std::string(reinterpret_cast<const char*>(buffer.data()), got->bytes) == "N+2");
  CHECK(got->fds.size() == 1);

  // A buffer smaller than what was sent: the fds come with its first part.
  REQUIRE(send_with_fds(a.get(), {&next, 1}, first).ok());
  got = recv_with_fds(b.get(), std::span(buffer).first(5));
  REQUIRE(got.ok());
  CHECK(got->bytes == 5);
  CHECK(got->fds.size() == 1);
  got = recv_with_fds(b.get(), buffer);
  REQUIRE(got.ok());
  CHECK(got->bytes == std::strlen("start-of-N+1") - 5);
  CHECK(got->fds.empty());
}
