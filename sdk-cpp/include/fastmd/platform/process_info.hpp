// fastmd/platform/process_info.hpp — when this process started and where its executable is.
// Linux reads /proc (proc(5)), macOS and FreeBSD ask sysctl(3); portable POSIX has no
// interface for either, so it answers that it does not know and each caller has a fallback:
// the rollout bucket mixes the pid alone, and the executable search looks in its other places
// (docs/platforms.md).
#pragma once

#include <cstdint>
#include <string>

namespace fastmd::platform {

/// When this process started (Linux: clock ticks since boot, proc(5)'s starttime; macOS and
/// FreeBSD: microseconds since the epoch), or 0 where the platform cannot tell: it tells this
/// process from an earlier one that had the same pid.
std::uint64_t own_start_time();

/// The absolute path of this process's executable, or "" where the platform cannot tell.
/// After the file was replaced (an upgrade in place) Linux names it with " (deleted)" at the
/// end; its directory is still the right one.
///
///     // "" where capabilities().process_info is false (the posix build, also on Linux)
///     const std::string exe = fastmd::platform::own_executable_path();
std::string own_executable_path();

}  // namespace fastmd::platform
