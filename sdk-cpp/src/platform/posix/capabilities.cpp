// What the portable POSIX implementation provides (see fastmd/platform/capabilities.hpp):
// unsealed shm objects, liveness from EOF only, getpeereid credentials without pid or
// groups and no pre-faulting. Differs from linux/ in each of those.
#include "fastmd/platform/capabilities.hpp"

namespace fastmd::platform {

const Capabilities& capabilities() {
  static constexpr Capabilities kPosix{
      .name = "posix",
      .memory_backing = "shm_open",
      .sealing = false,
      .poller = "poll",
      .liveness = "eof",
      .exit_watcher = false,
      .credentials = "getpeereid",
      .peer_pid = false,
      .peer_groups = false,
      .prefault = false,
      .huge_pages = false,
      .process_info = false,
      .memory_limits = false,
      .resizable_objects = true,
  };
  return kPosix;
}

}  // namespace fastmd::platform
