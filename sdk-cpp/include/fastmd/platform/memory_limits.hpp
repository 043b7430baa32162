// fastmd/platform/memory_limits.hpp — how much memory this process could still get: what the
// system has available, and the room left under a cgroup's limit. The daemon checks that a
// pool fits before it makes it (daemon/src/memory/pool_capacity.cpp). Linux reads
// /proc/meminfo and cgroup v2's memory.max; portable POSIX has no call for either, so it
// answers "unknown" and the daemon makes the pool unchecked (docs/platforms.md).
#pragma once

#include <cstdint>
#include <optional>

namespace fastmd::platform {

/// Bytes of memory available to new allocations without swapping (Linux: MemAvailable), or
/// nullopt where the platform cannot tell.
///
///     if (auto room = fastmd::platform::available_memory(); room && *room < need) refuse();
std::optional<std::uint64_t> available_memory();

/// Bytes left under this process's cgroup memory limit (cgroup v2 memory.max less
/// memory.current), or nullopt when no limit is set or the platform has no cgroups.
std::optional<std::uint64_t> cgroup_memory_headroom();

}  // namespace fastmd::platform
