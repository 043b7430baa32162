// Portable spawn fds: macOS closes every fd that no file action names when the spawn has
// POSIX_SPAWN_CLOEXEC_DEFAULT (posix_spawnattr_setflags(3)), so the dup2s the caller added
// stay and the rest go. Plain POSIX has no such flag or action: only close-on-exec fds stay
// out of the child, which every fd the daemon makes is, while one it inherited without
// FD_CLOEXEC reaches its workers (docs/platforms.md). Differs from linux/, which closes by a
// file action.
#include "platform/spawn_fds.hpp"

namespace fastmd::platform {

short close_other_fds_on_spawn(posix_spawn_file_actions_t&, int) {
#ifdef POSIX_SPAWN_CLOEXEC_DEFAULT
  return POSIX_SPAWN_CLOEXEC_DEFAULT;
#else
  return 0;
#endif
}

}  // namespace fastmd::platform
