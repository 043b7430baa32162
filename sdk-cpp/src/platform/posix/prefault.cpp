// Portable POSIX pre-faulting: there is no fallocate, no MAP_POPULATE and no MADV_POPULATE_*,
// so a fresh memory object's pages are backed by writing one zero byte into each page with
// pwrite() (still no mapping, so a peer's truncation cannot SIGBUS the writer), mappings
// fault on first touch, and huge pages are refused (docs/platforms.md, "What degrades").
#include "fastmd/platform/prefault.hpp"

#include <unistd.h>

#include <cerrno>

#include "../os.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

int os::map_populate_flag() {
  return 0;
}

proto::Status allocate_pages(int fd, std::uint64_t size) {
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::uint64_t step = page > 0 ? static_cast<std::uint64_t>(page) : 4096;
  const char zero = 0;
  for (std::uint64_t offset = 0; offset < size; offset += step) {
    ssize_t written;
    do {
      written = ::pwrite(fd, &zero, 1, static_cast<off_t>(offset));
    } while (written < 0 && errno == EINTR);
    if (written != 1) return system_error("pwrite (backing a page)", written < 0 ? errno : EIO);
  }
  return {};
}

bool populate(std::span<std::byte>, PopulateFor) {
  return false;  // nothing to call: pages come in on first touch
}

proto::Status advise_huge_pages(std::span<std::byte>) {
  return system_error("transparent huge pages (madvise MADV_HUGEPAGE is Linux-only)", ENOTSUP);
}

}  // namespace fastmd::platform
