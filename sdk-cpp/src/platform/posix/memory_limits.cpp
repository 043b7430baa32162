// Portable memory limits: POSIX has no call for the memory available to new allocations
// (sysconf's _SC_AVPHYS_PAGES, where it exists, counts only free pages, not reclaimable cache,
// and would refuse pools that fit) and no cgroups, so both answer "unknown" and the daemon
// makes its pool unchecked (memory_limits.hpp). Differs from linux/, which reads /proc and
// /sys/fs/cgroup.
#include "fastmd/platform/memory_limits.hpp"

namespace fastmd::platform {

std::optional<std::uint64_t> available_memory() {
  return std::nullopt;
}

std::optional<std::uint64_t> cgroup_memory_headroom() {
  return std::nullopt;
}

}  // namespace fastmd::platform
