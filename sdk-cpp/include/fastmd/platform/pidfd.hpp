// fastmd/platform/pidfd.hpp — a process handle (Linux pidfd): becomes readable the moment the
// process exits, so a watcher sees a peer's death at once, without polling or signals.
#pragma once

#include <sys/types.h>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// Opens a pidfd (CLOEXEC) for `pid`. Fails with IO_ERROR on kernels before 5.3 (ENOSYS) or
/// when the process is gone (ESRCH); callers then rely on EOF of the peer's socket alone.
proto::Result<UniqueFd> open_pidfd(pid_t pid);

}  // namespace fastmd::platform
