// platform/spawn_fds.hpp — how a worker the daemon spawns gets only the fds it is given:
// every other fd of the daemon closed in the child, close-on-exec or not (a socket a service
// manager handed over is not). glibc and FreeBSD 13.1+ have a spawn file action for it
// (posix_spawn_file_actions_addclosefrom_np); macOS has a spawn flag
// (POSIX_SPAWN_CLOEXEC_DEFAULT); plain POSIX has neither, and then only close-on-exec fds
// stay out, which every fd the daemon makes is (docs/platforms.md).
#pragma once

#include <spawn.h>

namespace fastmd::platform {

/// Call after the last file action: the child then keeps the fds those actions leave below
/// `lowest` (its 0, 1, 2 and the ones dup2'd there) and no other. Adds to `actions` what does
/// it, and returns the posix_spawnattr flags to add to the spawn's where a flag does it (0
/// otherwise).
///
///     const short flags = close_other_fds_on_spawn(actions, 4);   // keeps 0-3
///     posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | flags);
short close_other_fds_on_spawn(posix_spawn_file_actions_t& actions, int lowest);

}  // namespace fastmd::platform
