// Memory fds: creation, sealing and the receiver's checks (see fastmd/platform/memfd.hpp).
#include "fastmd/platform/memfd.hpp"

#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

namespace {

proto::Status set_size(int fd, std::uint64_t size) {
  if (size > static_cast<std::uint64_t>(INT64_MAX)) return system_error("ftruncate", EFBIG);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return system_error("ftruncate", errno);
  return {};
}

proto::Error bad_fd(std::string message) {
  return proto::Error{proto::Errc::shm_bad_fd, std::move(message)};
}

std::string seal_names(unsigned seals) {
  std::string out;
  const auto add = [&](unsigned bit, const char* name) {
    if ((seals & bit) == 0) return;
    if (!out.empty()) out += '|';
    out += name;
  };
  add(F_SEAL_SEAL, "F_SEAL_SEAL");
  add(F_SEAL_SHRINK, "F_SEAL_SHRINK");
  add(F_SEAL_GROW, "F_SEAL_GROW");
  add(F_SEAL_WRITE, "F_SEAL_WRITE");
  return out.empty() ? "none" : out;
}

}  // namespace

proto::Result<UniqueFd> create_memfd(const char* name, std::uint64_t size) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return system_error("memfd_create", errno);
  if (auto sized = set_size(fd.get(), size); !sized) return sized.error();
  return fd;
}

proto::Status add_seals(int fd, unsigned seals) {
  if (::fcntl(fd, F_ADD_SEALS, seals) != 0) return system_error("fcntl(F_ADD_SEALS)", errno);
  return {};
}

proto::Result<unsigned> get_seals(int fd) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return system_error("fcntl(F_GET_SEALS)", errno);
  return static_cast<unsigned>(seals);
}

proto::Result<UniqueFd> create_shm_object(const std::string& name, std::uint64_t size) {
  UniqueFd fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return system_error("shm_open(" + name + ")", errno);
  if (auto sized = set_size(fd.get(), size); !sized) {
    ::shm_unlink(name.c_str());
    return sized.error();
  }
  return fd;
}

proto::Status unlink_shm_object(const std::string& name) {
  if (::shm_unlink(name.c_str()) != 0 && errno != ENOENT) {
    return system_error("shm_unlink(" + name + ")", errno);
  }
  return {};
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
  if (::fstat(fd, &st) != 0) return bad_fd("fstat failed: " + std::string(strerror(errno)));
  if (!S_ISREG(st.st_mode)) return bad_fd("the fd is not a regular memory file");
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return bad_fd("fstatfs failed: " + std::string(strerror(errno)));
  if (fs.f_type != TMPFS_MAGIC && fs.f_type != HUGETLBFS_MAGIC) {
    return bad_fd("the fd is not a memfd or /dev/shm object (not on tmpfs)");
  }
  const int seals = ::fcntl(fd, F_GET_SEALS);
  const unsigned have = seals < 0 ? 0U : static_cast<unsigned>(seals);
  if ((have & required_seals) != required_seals) {
    return bad_fd("the memory fd is sealed with " + seal_names(have) + " but needs " +
                  seal_names(required_seals));
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < min_size) {
    return bad_fd("the memory fd holds " + std::to_string(size) + " bytes but " +
                  std::to_string(min_size) + " were claimed");
  }
  return MemoryFdInfo{size, have};
}

}  // namespace fastmd::platform
