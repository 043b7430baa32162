// Linux memory objects: memfd_create with sealing, and a receiver's check that an fd is a
// memfd or /dev/shm object on tmpfs carrying the seals it needs. Differs from posix/ in that
// the kernel can seal a memfd's size and contents, so a peer cannot shrink it under a reader.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "../os.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

static_assert(kSealSeal == F_SEAL_SEAL && kSealShrink == F_SEAL_SHRINK &&
                  kSealGrow == F_SEAL_GROW && kSealWrite == F_SEAL_WRITE,
              "the portable seal bits are Linux's F_SEAL_* values");

proto::Result<UniqueFd> create_memfd(const char* name, std::uint64_t size) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return system_error("memfd_create", errno);
  if (auto sized = os::set_size(fd.get(), size); !sized) return sized.error();
  return fd;
}

proto::Status add_seals(int fd, unsigned seals) {
  // EBUSY: F_SEAL_WRITE found pages the kernel still holds references to after it waited for
  // them (about 75 ms; a page being migrated or collapsed into a huge page). It passes once they
  // are let go: seen once in the Node suite's 18 MiB one-off, so a few more tries.
  constexpr int kBusyRetries = 5;
  for (int attempt = 0;; ++attempt) {
    if (::fcntl(fd, F_ADD_SEALS, seals) == 0) return {};
    if (errno != EBUSY || attempt == kBusyRetries) return system_error("fcntl(F_ADD_SEALS)", errno);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

proto::Result<unsigned> get_seals(int fd) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return system_error("fcntl(F_GET_SEALS)", errno);
  return static_cast<unsigned>(seals);
}

bool is_named_shm_object(int fd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  char target[256];
  const ssize_t length = ::readlink(path, target, sizeof target - 1);
  if (length < 0) return false;
  return std::string_view(target, static_cast<std::size_t>(length)).starts_with("/dev/shm/");
}

proto::Result<MemoryFdInfo> check_memory_fd(int fd, unsigned required_seals,
                                            std::uint64_t min_size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return os::bad_memory_fd("fstat failed: " + std::string(strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return os::bad_memory_fd("the fd is not a regular memory file");
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) {
    return os::bad_memory_fd("fstatfs failed: " + std::string(strerror(errno)));
  }
  if (fs.f_type != TMPFS_MAGIC && fs.f_type != HUGETLBFS_MAGIC) {
    return os::bad_memory_fd("the fd is not a memfd or /dev/shm object (not on tmpfs)");
  }
  const int seals = ::fcntl(fd, F_GET_SEALS);
  return os::check_seals_and_size(static_cast<std::uint64_t>(st.st_size),
                                  seals < 0 ? 0U : static_cast<unsigned>(seals), true,
                                  required_seals, min_size);
}

}  // namespace fastmd::platform
