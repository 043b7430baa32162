// Portable pipe: pipe(), then FD_CLOEXEC on each end (macOS has no pipe2). In between, a
// fork+exec in another thread of the process can inherit an end, as for sockets
// (posix/sockets.cpp, docs/platforms.md). Differs from linux/ in that atomicity.
#include "fastmd/platform/pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

proto::Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int ends[2];
  if (::pipe(ends) != 0) return system_error("pipe", errno);
  std::pair pipe{UniqueFd(ends[0]), UniqueFd(ends[1])};
  if (::fcntl(ends[0], F_SETFD, FD_CLOEXEC) != 0 || ::fcntl(ends[1], F_SETFD, FD_CLOEXEC) != 0) {
    return system_error("fcntl(FD_CLOEXEC)", errno);
  }
  return pipe;
}

}  // namespace fastmd::platform
