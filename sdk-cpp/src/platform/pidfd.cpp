// Process handles (see fastmd/platform/pidfd.hpp).
#include "fastmd/platform/pidfd.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

proto::Result<UniqueFd> open_pidfd(pid_t pid) {
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
