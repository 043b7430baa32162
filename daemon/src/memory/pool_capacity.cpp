// Whether the machine can hold the pool before it is created (see memory/pools.hpp): a pool
// that does not fit would be killed by the OOM killer mid-prefault, or SIGBUS on /dev/shm.
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "memory/pools.hpp"

namespace fastmd::daemon {

namespace {

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes / kMiB) + " MiB";
}

// MemAvailable from /proc/meminfo, in bytes.
std::optional<std::uint64_t> available_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// The room left under this process's cgroup v2 memory.max, when one is set.
std::optional<std::uint64_t> cgroup_headroom() {
  std::ifstream cgroup("/proc/self/cgroup");
  std::string line;
  std::string path;
  while (std::getline(cgroup, line)) {
    if (line.starts_with("0::")) path = line.substr(3);
  }
  if (path.empty()) return std::nullopt;
  const std::string dir = "/sys/fs/cgroup" + path;
  std::ifstream max_file(dir + "/memory.max");
  std::string max_text;
  if (!(max_file >> max_text) || max_text == "max") return std::nullopt;
  std::ifstream current_file(dir + "/memory.current");
  std::uint64_t current = 0;
  current_file >> current;
  const std::uint64_t limit = std::stoull(max_text);
  return limit > current ? limit - current : 0;
}

}  // namespace

proto::Status check_pool_capacity(const PoolOptions& options) {
  const std::uint64_t need = options.pool_size;
  if (auto available = available_memory(); available && *available < need) {
    return proto::Error{proto::Errc::io_error,
                        "the shared-memory pool needs " + mib(need) + " but only " +
                            mib(*available) +
                            " of memory is available (MemAvailable); lower --pool-size-mib"};
  }
  if (auto headroom = cgroup_headroom(); headroom && *headroom < need) {
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
