// macOS pre-faulting (untested here: compiles only on macOS, docs/platforms.md). Replaces
// posix/prefault.cpp because macOS shm objects support neither write(2) nor pwrite(2), only
// mmap: a fresh object's pages are backed by touching each through a temporary mapping, which
// is safe only because nobody else holds the object yet (the daemon calls this before the
// object is ever leased). Mappings fault on first touch; huge pages are refused.
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
  auto mapping = Mapping::map(fd, static_cast<std::size_t>(size), true);
  if (!mapping) return mapping.error();
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t step = page > 0 ? static_cast<std::size_t>(page) : 16384;
  volatile std::byte* bytes = mapping->data();
  for (std::size_t offset = 0; offset < mapping->size(); offset += step)
    bytes[offset] = std::byte{0};
  return {};
}

bool populate(std::span<std::byte>, PopulateFor) {
  return false;  // no MADV_POPULATE: pages come in on first touch
}

proto::Status advise_huge_pages(std::span<std::byte>) {
  return system_error("transparent huge pages (madvise MADV_HUGEPAGE is Linux-only)", ENOTSUP);
}

}  // namespace fastmd::platform
