// Linux memory limits: MemAvailable from /proc/meminfo, and the room under this process's
// cgroup v2 memory.max (its cgroup from /proc/self/cgroup's "0::" line, under /sys/fs/cgroup).
// Differs from posix/, which has neither and answers "unknown".
#include "fastmd/platform/memory_limits.hpp"

#include <fstream>
#include <string>

namespace fastmd::platform {

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

std::optional<std::uint64_t> cgroup_memory_headroom() {
  std::ifstream cgroup("/proc/self/cgroup");
  std::string line;
  std::string path;
  while (std::getline(cgroup, line)) {
    if (line.starts_with("0::")) path = line.substr(3);
  }
  if (path.empty()) return std::nullopt;
  const std::string dir = "/sys/fs/cgroup" + path;
  std::ifstream max_file(dir + "/memory.max");
  std::uint64_t limit = 0;
  // "max" (no limit) does not parse as a number.
  if (!(max_file >> limit)) return std::nullopt;
  std::ifstream current_file(dir + "/memory.current");
  std::uint64_t current = 0;
  current_file >> current;
  return limit > current ? limit - current : 0;
}

}  // namespace fastmd::platform
