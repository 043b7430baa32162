// The SIGBUS guard of every Mapping (fastmd/platform/mapping.hpp): a truncated object under a
// guarded mapping reads as zeros and marks the mapping broken; a fault anywhere else still
// ends the process with SIGBUS, as without the guard. Each case runs in a forked child, so a
// guard that failed kills the child, not the test.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>

#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"

using namespace fastmd::platform;

namespace {

constexpr std::size_t kSize = 4 * 4096;

// Runs `body` in a child and returns its wait status.
template <class Body>
int in_child(Body body) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(20);  // a guard that swallowed the fault would retry it for ever: SIGALRM then
    ::_exit(body());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

// An unsealed memory object of kSize bytes (a memfd left unsealed, or the posix shm object).
UniqueFd unsealed_object() {
  auto fd = create_memfd("test-sigbus", kSize);
  REQUIRE(fd.ok());
  return std::move(*fd);
}

}  // namespace

TEST_CASE("a read past a truncated object through a Mapping gives zeros and marks it broken",
          "[platform]") {
  const int status = in_child([] {
    UniqueFd fd = unsealed_object();
    auto mapping = Mapping::map(fd.get(), kSize, true);
    if (!mapping) return 10;
    mapping->data()[kSize - 1] = std::byte{7};
    if (mapping->broken()) return 11;
    if (::ftruncate(fd.get(), 0) != 0) return 12;
    const auto last = static_cast<volatile std::byte*>(mapping->data())[kSize - 1];
    if (last != std::byte{0}) return 13;
    if (!mapping->broken()) return 14;
    // A mapping made afterwards starts whole.
    if (::ftruncate(fd.get(), kSize) != 0) return 15;
    auto fresh = Mapping::map(fd.get(), kSize, false);
    if (!fresh || fresh->broken()) return 16;
    return 0;
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a SIGBUS outside every guarded mapping still ends the process with SIGBUS",
          "[platform]") {
  const int status = in_child([] {
    UniqueFd fd = unsealed_object();
    auto guarded = Mapping::map(fd.get(), kSize, true);  // installs the guard
    if (!guarded) return 10;
    // A mapping of the same object that no Mapping owns: not the guard's business.
    void* raw = ::mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (raw == MAP_FAILED) return 11;
    if (::ftruncate(fd.get(), 0) != 0) return 12;
    (void)static_cast<volatile std::byte*>(raw)[kSize - 1];
    return 13;
  });
#if defined(__SANITIZE_ADDRESS__)
  // ASan's SIGBUS handler was installed first: the guard hands the fault on to it, and it
  // reports and ends the process, which shows the chaining to a previous handler: exit 1, or
  // SIGABRT with ASAN_OPTIONS=abort_on_error=1 (as CI runs it). The child would otherwise
  // return 13, or die of SIGBUS.
  const bool ended_by_asan = (WIFEXITED(status) && WEXITSTATUS(status) == 1) ||
                             (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  INFO("wait status " << status);
  CHECK(ended_by_asan);
#else
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGBUS);
#endif
}
