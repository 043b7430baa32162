// What the macOS and FreeBSD builds provide (untested here, docs/platforms.md): the posix
// implementation's unsealed shm objects, with the pid and groups of a peer from
// LOCAL_PEERCRED (bsd/peer_credentials.cpp), kqueue for waiting (bsd/poller.cpp) and for a
// peer's exit (bsd/exit_watcher.cpp: EVFILT_PROC), and process facts from sysctl
// (bsd/process_info.cpp).
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
      .liveness = "kqueue",
      .exit_watcher = true,
      .credentials = "LOCAL_PEERCRED",
      .peer_pid = true,
      .peer_groups = true,
      .prefault = false,
      .huge_pages = false,
      .process_info = true,
      .memory_limits = false,
#ifdef __APPLE__
      .resizable_objects = false,  // an shm object takes ftruncate once (docs/platforms.md)
#else
      .resizable_objects = true,
#endif
  };
  return kBsd;
}

}  // namespace fastmd::platform
