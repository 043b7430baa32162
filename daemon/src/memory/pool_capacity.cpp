// Whether the machine can hold the pool before it is created (see memory/pools.hpp): a pool
// that does not fit would be killed by the OOM killer mid-prefault, or SIGBUS on /dev/shm.
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "fastmd/platform/memory_limits.hpp"
#include "memory/pools.hpp"

namespace fastmd::daemon {

namespace {

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes / kMiB) + " MiB";
}

}  // namespace

proto::Status check_pool_capacity(const PoolOptions& options) {
  const std::uint64_t need = options.pool_size;
  if (auto available = platform::available_memory(); available && *available < need) {
    return proto::Error{proto::Errc::io_error,
                        "the shared-memory pool needs " + mib(need) + " but only " +
                            mib(*available) +
                            " of memory is available (MemAvailable); lower --pool-size-mib"};
  }
  if (auto headroom = platform::cgroup_memory_headroom(); headroom && *headroom < need) {
    return proto::Error{proto::Errc::io_error, "the shared-memory pool needs " + mib(need) +
                                                   " but the cgroup's " + "memory.max leaves " +
                                                   mib(*headroom) +
                                                   "; raise MemoryMax= or lower --pool-size-mib"};
  }
  if (options.backing == PoolBacking::shm) {
    struct statvfs fs {};
    if (::statvfs(options.shm_dir.c_str(), &fs) != 0) {
      return proto::Error{proto::Errc::io_error, "statvfs(" + options.shm_dir +
                                                     "): " + std::strerror(errno) +
                                                     "; the shm backing needs it mounted"};
    }
    const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    if (free_bytes < need) {
      return proto::Error{proto::Errc::io_error,
                          options.shm_dir + " has " + mib(free_bytes) +
                              " free but the pool needs " + mib(need) +
                              "; enlarge it (mount -o remount,size=...) or lower --pool-size-mib"};
    }
  }
  return {};
}

}  // namespace fastmd::daemon
