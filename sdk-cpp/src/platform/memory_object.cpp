// Shareable memory objects: the portable part (see fastmd/platform/memfd.hpp). Named shm
// objects are POSIX everywhere; creating anonymous ones, sealing and the receiver's file-type
// check are the implementation directory's (linux/memory_object.cpp, posix/memory_object.cpp).
#include "fastmd/platform/memfd.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "os.hpp"

namespace fastmd::platform {

namespace os {

proto::Status set_size(int fd, std::uint64_t size) {
  if (size > static_cast<std::uint64_t>(INT64_MAX)) return system_error("ftruncate", EFBIG);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return system_error("ftruncate", errno);
  return {};
}

proto::Error bad_memory_fd(std::string message) {
  return proto::Error{proto::Errc::shm_bad_fd, std::move(message)};
}

std::string seal_names(unsigned seals) {
  std::string out;
  const auto add = [&](unsigned bit, const char* name) {
    if ((seals & bit) == 0) return;
    if (!out.empty()) out += '|';
    out += name;
  };
  add(kSealSeal, "F_SEAL_SEAL");
  add(kSealShrink, "F_SEAL_SHRINK");
  add(kSealGrow, "F_SEAL_GROW");
  add(kSealWrite, "F_SEAL_WRITE");
  return out.empty() ? "none" : out;
}

proto::Result<MemoryFdInfo> check_seals_and_size(std::uint64_t size, unsigned seals, bool can_seal,
                                                 unsigned required_seals, std::uint64_t min_size) {
  if (can_seal && (seals & required_seals) != required_seals) {
    return bad_memory_fd("the memory fd is sealed with " + seal_names(seals) + " but needs " +
                         seal_names(required_seals));
  }
  if (size < min_size) {
    return bad_memory_fd("the memory fd holds " + std::to_string(size) + " bytes but " +
                         std::to_string(min_size) + " were claimed");
  }
  return MemoryFdInfo{size, can_seal ? seals : 0U};
}

}  // namespace os

proto::Result<bool> seal_where_supported(int fd, unsigned seals) {
  if (!capabilities().sealing) return false;
  if (auto sealed = add_seals(fd, seals); !sealed) return sealed.error();
  return true;
}

proto::Result<UniqueFd> create_shm_object(const std::string& name, std::uint64_t size) {
  UniqueFd fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return system_error("shm_open(" + name + ")", errno);
  if (auto sized = os::set_size(fd.get(), size); !sized) {
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

proto::Result<MemoryFdInfo> check_shared_memory_fd(int fd, unsigned required_seals,
                                                   std::uint64_t min_size) {
  auto checked = check_memory_fd(fd, required_seals, min_size);
  if (!checked && is_named_shm_object(fd)) checked = check_memory_fd(fd, 0, min_size);
  return checked;
}

}  // namespace fastmd::platform
