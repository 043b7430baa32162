// reported_pid.hpp — the pid the daemon learns for a peer on this platform: the pid itself
// where the platform's credentials tell it (capabilities().peer_pid), else 0, as under
// FASTMD_PLATFORM=posix with getpeereid (docs/platforms.md, "What degrades").
#pragma once

#include <sys/types.h>

#include "fastmd/platform/capabilities.hpp"

namespace fastmd::test {

inline pid_t reported_pid(pid_t pid) {
  return platform::capabilities().peer_pid ? pid : 0;
}

}  // namespace fastmd::test
