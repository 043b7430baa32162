// Portable POSIX memory objects: shm_open with a random name, O_EXCL, unlinked at once, so
// only fds keep the object alive, as a memfd would. Differs from linux/ in that nothing can
// seal it: add_seals() reports ENOTSUP, check_memory_fd() verifies the size only, and a peer
// may shrink the object under a reader, which must therefore bound its reads by the size it
// checked on receipt and read shared memory once (docs/platforms.md, "What degrades").
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "../os.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

namespace {

// Tries before giving up on EEXIST: a random 48-bit name collides only with a hostile guess.
constexpr int kNameAttempts = 8;

std::string random_object_name(const char* label) {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  char suffix[13];
  std::snprintf(suffix, sizeof suffix, "%012llx",
                static_cast<unsigned long long>(generator() & 0xffffffffffffULL));
  // Some systems limit shm names to 31 bytes (macOS PSHMNAMLEN): 1 + 15 + 12 = 28 at most.
  return "/" + std::string(label).substr(0, 15) + suffix;
}

}  // namespace

proto::Result<UniqueFd> create_memfd(const char* name, std::uint64_t size) {
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    const std::string object = random_object_name(name);
    UniqueFd fd(::shm_open(object.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    if (!fd) {
      if (errno == EEXIST) continue;
      return system_error("shm_open(" + object + ")", errno);
    }
    ::shm_unlink(object.c_str());  // anonymous from here on: only fds keep it
    if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) {
      return system_error("fcntl(FD_CLOEXEC)", errno);
    }
    if (auto sized = os::set_size(fd.get(), size); !sized) return sized.error();
    return fd;
  }
  return system_error("shm_open (every random name was taken)", EEXIST);
}

proto::Status add_seals(int, unsigned seals) {
  return system_error("sealing " + os::seal_names(seals) + " (the posix platform has no seals)",
                      ENOTSUP);
}

proto::Result<unsigned> get_seals(int) {
  return system_error("reading seals (the posix platform has no seals)", ENOTSUP);
}

bool is_named_shm_object(int) {
  return true;  // every memory object here is an shm object, named or unlinked
}

proto::Result<MemoryFdInfo> check_memory_fd(int fd, unsigned required_seals,
                                            std::uint64_t min_size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return os::bad_memory_fd("fstat failed: " + std::string(strerror(errno)));
  }
  // Refuse what is surely no memory object. The file type of an shm object is not the same
  // everywhere (S_IFREG on Linux and FreeBSD; macOS reports permission bits only), so this
  // names what it refuses instead of asking for S_IFREG.
  if (S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode) ||
      S_ISSOCK(st.st_mode) || S_ISLNK(st.st_mode)) {
    return os::bad_memory_fd("the fd is not a memory object (a socket, pipe, device or directory)");
  }
  if (st.st_size < 0) return os::bad_memory_fd("the memory fd reports a negative size");
  return os::check_seals_and_size(static_cast<std::uint64_t>(st.st_size), 0, false, required_seals,
                                  min_size);
}

}  // namespace fastmd::platform
