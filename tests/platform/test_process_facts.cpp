// What the platform layer tells about this process and does for it: its start time and
// executable (where the platform can tell, else "unknown"), the memory available,
// close-on-exec pipes, closing inherited fds after fork, and sends to a closed peer without
// SIGPIPE. Each case asserts the linked layer's own behaviour, chosen by its capabilities().
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/close_fds.hpp"
#include "fastmd/platform/cpu_load.hpp"
#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/memory_limits.hpp"
#include "fastmd/platform/pipe.hpp"
#include "fastmd/platform/process_info.hpp"
#include "fastmd/platform/unix_socket.hpp"

using namespace fastmd::platform;

namespace {

bool is_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

}  // namespace

TEST_CASE("this process's start time and executable are known where the platform can tell") {
  if (capabilities().process_info) {
    CHECK(own_start_time() > 0);
    const std::filesystem::path exe = own_executable_path();
    CHECK(exe.is_absolute());
    CHECK(exe.filename() == "test-platform");
  } else {
    CHECK(own_start_time() == 0);
    CHECK(own_executable_path().empty());
  }
}

TEST_CASE("the CPU load names this process's cores, and on Linux sees busy threads at once") {
  const CpuLoadReader load;
  const auto idle = load.read();
  REQUIRE(idle.has_value());
  CHECK(idle->cores >= 1);
  CHECK(idle->cores <= static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_CONF)));
  if (std::string(capabilities().name) != "linux") return;  // posix: a one-minute average
  CHECK(idle->runnable >= 1);                               // the reading thread itself
  // Fewer than all the machine's threads (the next field of /proc/loadavg), not a pid.
  std::ifstream loadavg("/proc/loadavg");
  std::string averages[3], counts;
  loadavg >> averages[0] >> averages[1] >> averages[2] >> counts;
  CHECK(idle->runnable < std::stoul(counts.substr(counts.find('/') + 1)));
  // Threads that never sleep are counted the moment they run or wait to.
  const unsigned busy = idle->cores + 1;
  std::atomic<bool> stop{false};
  std::vector<std::thread> spinners;
  for (unsigned i = 0; i < busy; ++i) {
    spinners.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  unsigned most = 0;
  for (int i = 0; i < 100 && most <= busy; ++i) {
    most = std::max(most, load.read().value_or(CpuLoad{}).runnable);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop = true;
  for (auto& spinner : spinners) spinner.join();
  CHECK(most > busy);  // the spinners and the reader: more than the cores
}

TEST_CASE("the memory available is a plausible amount where the platform can tell") {
  const auto available = available_memory();
  if (capabilities().memory_limits) {
    REQUIRE(available.has_value());
    const auto total = static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                       static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    CHECK(*available > 0);
    CHECK(*available <= total);
  } else {
    CHECK_FALSE(available.has_value());
    CHECK_FALSE(cgroup_memory_headroom().has_value());
  }
}

TEST_CASE("a pipe's two ends are close-on-exec and carry bytes") {
  auto pipe = make_pipe();
  REQUIRE(pipe);
  CHECK(is_cloexec(pipe->first.get()));
  CHECK(is_cloexec(pipe->second.get()));
  const char sent = 'x';
  REQUIRE(::write(pipe->second.get(), &sent, 1) == 1);
  char received = 0;
  REQUIRE(::read(pipe->first.get(), &received, 1) == 1);
  CHECK(received == 'x');
}

TEST_CASE(
    "a forked child that closes its inherited fds keeps only the standard three and the one it "
    "keeps") {
  // Inherited without close-on-exec, as a caller's stray fds would be.
  const UniqueFd stray_low(::open("/dev/null", O_RDONLY));
  const UniqueFd kept(::open("/dev/null", O_RDONLY));
  const UniqueFd stray_high(::fcntl(stray_low.get(), F_DUPFD, 200));
  REQUIRE(stray_low);
  REQUIRE(kept);
  REQUIRE(stray_high);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close_inherited_fds(kept.get());
    // Exit status: a bit for each fd that is not as it should be.
    int wrong = 0;
    if (is_open(stray_low.get())) wrong |= 1;
    if (is_open(stray_high.get())) wrong |= 2;
    if (!is_open(kept.get())) wrong |= 4;
    if (!is_open(STDERR_FILENO)) wrong |= 8;
    ::_exit(wrong);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  INFO(
      "1: a low stray fd stayed open, 2: a high one did, 4: the kept one was closed, 8: stderr "
      "was");
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a send to a closed peer fails with EPIPE and raises no SIGPIPE") {
  // The default disposition, not blocked, so a SIGPIPE would end this test process.
  struct sigaction previous {};
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  REQUIRE(::sigaction(SIGPIPE, &default_action, &previous) == 0);
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t previous_mask;
  REQUIRE(::pthread_sigmask(SIG_UNBLOCK, &pipe_only, &previous_mask) == 0);
  auto pair = make_socketpair();
  REQUIRE(pair);
  pair->second.reset();
  const char byte = 1;
  const iovec data{const_cast<char*>(&byte), 1};
  auto sent = send_with_fds(pair->first.get(), std::span<const iovec>(&data, 1));
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  ::sigaction(SIGPIPE, &previous, nullptr);
  REQUIRE_FALSE(sent.ok());
  CHECK(sent.error().message == std::string("sendmsg: ") + std::strerror(EPIPE));
}
