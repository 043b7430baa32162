// Portable spawn fds: macOS closes every fd that no file action names when the spawn has
// POSIX_SPAWN_CLOEXEC_DEFAULT (posix_spawnattr_setflags(3)), so the dup2s the caller added
// stay and the rest go; FreeBSD 13.1+ has the same file action as glibc. Plain POSIX has no
// such flag or action: only close-on-exec fds stay out of the child, which every fd the daemon
// makes is, while one it inherited without FD_CLOEXEC reaches its workers (docs/platforms.md).
// Differs from linux/, which always closes by the file action.
#include "platform/spawn_fds.hpp"

#ifdef __FreeBSD__
#include <sys/param.h>  // __FreeBSD_version
#endif

namespace fastmd::platform {

short close_other_fds_on_spawn([[maybe_unused]] posix_spawn_file_actions_t& actions,
                               [[maybe_unused]] int lowest) {
#if defined(POSIX_SPAWN_CLOEXEC_DEFAULT)
  return POSIX_SPAWN_CLOEXEC_DEFAULT;
#elif defined(__FreeBSD__) && __FreeBSD_version >= 1301000
  posix_spawn_file_actions_addclosefrom_np(&actions, lowest);
  return 0;
#else
  return 0;
#endif
}

}  // namespace fastmd::platform
