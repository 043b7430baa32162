// What the Linux implementation provides (see fastmd/platform/capabilities.hpp): everything,
// the reference the other implementations are measured against.
#include "fastmd/platform/capabilities.hpp"

namespace fastmd::platform {

const Capabilities& capabilities() {
  static constexpr Capabilities kLinux{
      .name = "linux",
      .memory_backing = "memfd",
      .sealing = true,
      .poller = "epoll",
      .liveness = "pidfd",
      .exit_watcher = true,
      .credentials = "SO_PEERCRED+SO_PEERGROUPS",
      .peer_pid = true,
      .peer_groups = true,
      .prefault = true,
      .huge_pages = true,
      .process_info = true,
      .memory_limits = true,
      .resizable_objects = true,
  };
  return kLinux;
}

}  // namespace fastmd::platform
