// fastmd/platform/exit_watcher.hpp — watching a peer process's exit: an fd that becomes
// readable the moment the process exits, so a watcher sees a peer's death at once, without
// polling or signals. Linux has one (pidfd), macOS and FreeBSD another (a kqueue with an
// EVFILT_PROC filter); portable POSIX has none, and says so by returning an empty UniqueFd:
// liveness then comes from EOF on the peer's socket alone (and, for the daemon's own
// children, from SIGCHLD).
#pragma once

#include <sys/types.h>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// Opens an exit watcher (CLOEXEC) for `pid`. An empty (invalid) UniqueFd means this platform
/// has no watcher (capabilities().liveness == "eof"). Fails with IO_ERROR on kernels before 5.3
/// (ENOSYS) or when the process is gone (ESRCH); callers then rely on EOF of the peer's socket.
proto::Result<UniqueFd> open_exit_watcher(pid_t pid);

}  // namespace fastmd::platform
