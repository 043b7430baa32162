// What the macOS and FreeBSD builds provide (untested here, docs/platforms.md): the posix
// implementation's unsealed shm objects and EOF liveness, with the pid and groups of a peer
// from LOCAL_PEERCRED (bsd/peer_credentials.cpp) and kqueue for waiting (bsd/poller.cpp).
// Replaces posix/capabilities.cpp for those.
#include "fastmd/platform/capabilities.hpp"

namespace fastmd::platform {

const Capabilities& capabilities() {
  static constexpr Capabilities kBsd{
#ifdef __APPLE__
      .name = "macos",
#else
      .name = "freebsd",
#endif
      .memory_backing = "shm_open",
      .sealing = false,
      .poller = "kqueue",
      .liveness = "eof",
      .exit_watcher = false,
      .credentials = "LOCAL_PEERCRED",
      .peer_pid = true,
      .peer_groups = true,
      .prefault = false,
      .huge_pages = false,
      .process_info = false,
      .memory_limits = false,
  };
  return kBsd;
}

}  // namespace fastmd::platform
