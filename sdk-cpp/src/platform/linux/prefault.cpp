// Linux pre-faulting: fallocate() backs a memory object's pages without a mapping,
// MADV_POPULATE_READ/WRITE (5.14+) and MAP_POPULATE fault a mapping in with one call,
// and MADV_HUGEPAGE asks for transparent huge pages.
// Differs from posix/, which has none of the calls: it backs pages one pwrite at a time and
// leaves mappings to fault on first touch.
#include "fastmd/platform/prefault.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>

#include "../os.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

int os::map_populate_flag() {
  return MAP_POPULATE;
}

proto::Status allocate_pages(int fd, std::uint64_t size) {
  if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) return system_error("fallocate", errno);
  return {};
}

bool populate(std::span<std::byte> memory, PopulateFor access) {
  const int advice = access == PopulateFor::write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
  return ::madvise(memory.data(), memory.size(), advice) == 0;
}

proto::Status advise_huge_pages(std::span<std::byte> memory) {
  if (::madvise(memory.data(), memory.size(), MADV_HUGEPAGE) != 0) {
    return system_error("madvise(MADV_HUGEPAGE)", errno);
  }
  return {};
}

}  // namespace fastmd::platform
