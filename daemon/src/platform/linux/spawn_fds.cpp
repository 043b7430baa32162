// Linux (glibc 2.34+): a spawn file action closes every fd from `lowest` up in the child.
// Differs from posix/, which has no such action.
#include "platform/spawn_fds.hpp"

namespace fastmd::platform {

short close_other_fds_on_spawn(posix_spawn_file_actions_t& actions, int lowest) {
  posix_spawn_file_actions_addclosefrom_np(&actions, lowest);
  return 0;
}

}  // namespace fastmd::platform
