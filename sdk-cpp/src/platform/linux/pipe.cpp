// Linux pipe: both ends close-on-exec atomically (pipe2), so a fork+exec in another thread
// can never inherit one. Differs from posix/, which sets FD_CLOEXEC after pipe().
#include "fastmd/platform/pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

proto::Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return system_error("pipe2", errno);
  return std::pair{UniqueFd(ends[0]), UniqueFd(ends[1])};
}

}  // namespace fastmd::platform
