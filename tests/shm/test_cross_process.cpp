// Two processes sharing memory for real: fds travel over a socketpair with SCM_RIGHTS to a
// forked child, as between a client and a worker. Every wait is bounded.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/shm/oneoff.hpp"
#include "segment_fixture.hpp"

using fastmd::platform::UniqueFd;
using fastmd::proto::SegmentInfo;
using fastmd::proto::ShmHandle;
using fastmd::shm::testing::fill_pattern;
using fastmd::shm::testing::has_pattern;
using fastmd::shm::testing::SegmentFixture;
using namespace std::chrono_literals;

namespace {

constexpr int kChildTimeoutMs = 60000;

// What the parent sends the child: a handle and the segment it lies in.
struct Envelope {
  ShmHandle handle;
  SegmentInfo segment;
};

bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

void send_envelope(int socket, const Envelope& envelope, int fd) {
  iovec iov{const_cast<Envelope*>(&envelope), sizeof envelope};
  const int fds[] = {fd};
  auto sent = fastmd::platform::send_with_fds(socket, {&iov, 1}, fds);
  REQUIRE(sent.ok());
  REQUIRE(sent->bytes == sizeof envelope);
}

// In the child: receives one envelope and its fd (blocking, bounded by poll).
bool receive_envelope(int socket, Envelope& envelope, UniqueFd& fd) {
  if (!wait_readable(socket, kChildTimeoutMs)) return false;
  auto received = fastmd::platform::recv_with_fds(
      socket, {reinterpret_cast<std::byte*>(&envelope), sizeof envelope});
  if (!received || received->bytes != sizeof envelope || received->fds.size() != 1) return false;
  fd = std::move(received->fds[0]);
  return true;
}

// A forked child running `body(socket)`; its exit code is the body's result.
class Child {
 public:
  explicit Child(const std::function<int(int)>& body) {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(pair[0]);
      ::_exit(body(pair[1]));
    }
    socket_.reset(pair[0]);
    ::close(pair[1]);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int socket() const { return socket_.get(); }

  /// The child's exit status (-1 when it timed out or died by a signal).
  int wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(kChildTimeoutMs)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(5ms);
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd socket_;
};

}  // namespace

TEST_CASE("10 MiB written by one process is read in place by another", "[shm]") {
  constexpr std::size_t kPayload = 10 * 1024 * 1024;
  SegmentFixture f(16 * 1024 * 1024);
  Child child([](int socket) {
    Envelope envelope{};
    UniqueFd fd;
    if (!receive_envelope(socket, envelope, fd)) return 10;
    auto reader = fastmd::shm::SegmentReader::open(std::move(fd), envelope.segment);
    if (!reader) return 11;
    auto view = reader->read(envelope.handle);
    if (!view) return 12;
    if (!has_pattern(*view, 77)) return 13;
    reader->release(envelope.handle);
    return 0;
  });

  auto block = f.writer->allocate(kPayload, 0ms);
  REQUIRE(block.ok());
  fill_pattern(block->data(), 77);
  const ShmHandle handle = block->seal(kPayload);
  UniqueFd for_child = f.dup_fd();
  send_envelope(child.socket(), Envelope{handle, f.info}, for_child.get());
  CHECK(child.wait() == 0);

  // The child's release is visible here: the whole segment can be allocated again.
  auto whole = f.writer->allocate(f.writer->max_block(), 0ms);
  CHECK(whole.ok());
  CHECK(f.writer->stats().reclaimed == 1);
}

TEST_CASE(
    "a peer that truncates a segment under a reader is refused by the seal, or else the reader "
    "gets SHM_BAD_FD, a segment beside it reads on, and nobody gets SIGBUS",
    "[shm][hostile]") {
  constexpr std::uint64_t kSize = 1024 * 1024;
  SegmentFixture f(kSize);
  SegmentFixture beside(kSize, 4);
  auto block = f.writer->allocate(f.writer->max_block(), 0ms);
  REQUIRE(block.ok());
  fill_pattern(block->data(), 3);
  const ShmHandle handle = block->seal(f.writer->max_block());
  auto other = beside.writer->allocate(4096, 0ms);
  REQUIRE(other.ok());
  fill_pattern(other->data(), 5);
  const ShmHandle other_handle = other->seal(4096);

  // A hostile peer: shrink to nothing, then grow. Exit 0: both refused (sealed); 1: truncated.
  Child child([](int socket) {
    Envelope envelope{};
    UniqueFd fd;
    if (!receive_envelope(socket, envelope, fd)) return 10;
    if (::ftruncate(fd.get(), 0) == 0) return 1;
    if (errno != EPERM) return 21;
    if (::ftruncate(fd.get(), static_cast<off_t>(envelope.segment.size * 2)) == 0) return 22;
    if (errno != EPERM) return 23;
    return 0;
  });
  // The reader reads the whole block again and again while the peer truncates (the child is
  // forked first: a fork beside a running thread may inherit a held malloc lock).
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> failed_with{0};  // the reader's error code, 0 while it reads fine
  std::thread reading([&] {
    while (!stop.load()) {
      auto view = f.reader->read(handle);
      if (!view) {
        failed_with.store(static_cast<int>(view.error().code));
        return;
      }
      (void)has_pattern(*view, 3);  // touches every byte, up to the segment's last page
      reads.fetch_add(1);
    }
  });
  while (reads.load() == 0 && failed_with.load() == 0) std::this_thread::sleep_for(1ms);
  UniqueFd for_child = f.dup_fd();
  send_envelope(child.socket(), Envelope{handle, f.info}, for_child.get());
  const int outcome = child.wait();
  stop.store(true);
  reading.join();
  CHECK(reads.load() > 0);

  struct stat st {};
  REQUIRE(::fstat(f.memfd.get(), &st) == 0);
  auto view = f.reader->read(handle);
  if (fastmd::platform::capabilities().sealing) {
    CHECK(outcome == 0);
    CHECK(failed_with.load() == 0);
    CHECK(static_cast<std::uint64_t>(st.st_size) == kSize);
    // Read every byte of the block, up to the segment's last page: a SIGBUS would end this test.
    REQUIRE(view.ok());
    CHECK(handle.offset + handle.length == kSize);
    CHECK(has_pattern(*view, 3));
  } else {
    CHECK(outcome == 1);
    CHECK(st.st_size == 0);
    // This read, or the reader's thread before it, faulted on the lost pages: the guard put
    // zeros there and the reader says so with a code.
    REQUIRE_FALSE(view.ok());
    CHECK(view.error().code == fastmd::proto::Errc::shm_bad_fd);
    if (failed_with.load() != 0) {
      CHECK(failed_with.load() == static_cast<int>(fastmd::proto::Errc::shm_bad_fd));
    }
    // The owner's side faults as well once it touches the segment, and says so.
    auto more = f.writer->allocate(64, 0ms);
    REQUIRE_FALSE(more.ok());
    CHECK(more.error().code == fastmd::proto::Errc::shm_bad_fd);
  }
  // The well-behaved segment beside it is untouched.
  auto untouched = beside.reader->read(other_handle);
  REQUIRE(untouched.ok());
  CHECK(has_pattern(*untouched, 5));
}

TEST_CASE("a 256 MiB payload travels through a one-off memfd to another process", "[shm]") {
  constexpr std::size_t kPayload = 256 * 1024 * 1024;
  Child child([](int socket) {
    Envelope envelope{};
    UniqueFd fd;
    if (!receive_envelope(socket, envelope, fd)) return 10;
    if (!envelope.handle.attached_memfd()) return 11;
    auto payload = fastmd::shm::map_attached(std::move(fd), envelope.handle.length);
    if (!payload) return 12;
    if (payload->size() != kPayload) return 13;
    if (!has_pattern(payload->bytes(), 256)) return 14;
    return 0;
  });
  auto oneoff = fastmd::shm::make_oneoff(kPayload, [](std::span<std::byte> out) {
    fill_pattern(out, 256);
    return out.size();
  });
  REQUIRE(oneoff.ok());
  send_envelope(child.socket(), Envelope{oneoff->handle, SegmentInfo{}}, oneoff->fd.get());
  oneoff->fd.reset();  // the child's copy keeps the memory alive
  CHECK(child.wait() == 0);
}
