// Linux exit watcher: a pidfd (pidfd_open, Linux 5.3+), readable once the process exits.
// Differs from posix/ in that POSIX has no fd for another process's exit at all.
#include "fastmd/platform/exit_watcher.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

proto::Result<UniqueFd> open_exit_watcher(pid_t pid) {
#ifdef SYS_pidfd_open
  // pidfd_open fds are always close-on-exec.
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return system_error("pidfd_open", errno);
  return UniqueFd(static_cast<int>(fd));
#else
  (void)pid;
  return system_error("pidfd_open", ENOSYS);
#endif
}

}  // namespace fastmd::platform
