// Shared memory mappings (see fastmd/platform/mapping.hpp). Whether a mapping can be
// populated as it is made is the implementation directory's (os::map_populate_flag).
#include "fastmd/platform/mapping.hpp"

#include <sys/mman.h>

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"
#include "os.hpp"
#include "sigbus_guard.hpp"

namespace fastmd::platform {

proto::Result<Mapping> Mapping::map(int fd, std::size_t size, bool writable, off_t offset,
                                    Populate populate) {
  if (size == 0) return system_error("mmap of 0 bytes", EINVAL);
  const int protection = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  const int flags = MAP_SHARED | (populate == Populate::prefault ? os::map_populate_flag() : 0);
  void* address = ::mmap(nullptr, size, protection, flags, fd, offset);
  if (address == MAP_FAILED) return system_error("mmap", errno);
  return Mapping(static_cast<std::byte*>(address), size);
}

proto::Result<Mapping> Mapping::map_private(int fd, std::size_t size) {
  if (size == 0) return system_error("mmap of 0 bytes", EINVAL);
  void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) return system_error("mmap", errno);
  return Mapping(static_cast<std::byte*>(address), size);
}

Mapping::Mapping(std::byte* data, std::size_t size)
    : data_(data), size_(size), guard_(sigbus_guard::guard(data, size)) {}

bool Mapping::broken() const {
  return guard_ != nullptr && sigbus_guard::broken(guard_);
}

void Mapping::reset() {
  if (guard_ != nullptr) sigbus_guard::release(guard_);
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  guard_ = nullptr;
}

}  // namespace fastmd::platform
