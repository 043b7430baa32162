// Portable POSIX sockets: socket(), accept(), socketpair() and recvmsg() have no atomic
// close-on-exec flag in POSIX, so FD_CLOEXEC (and O_NONBLOCK) are set by fcntl right after
// each call. In between, a fork+exec in another thread of the process (the SDK's user may
// run one) can inherit the fd: the cost of the portable layer, which linux/ does not pay
// (docs/platforms.md). A send to a closed peer must not raise SIGPIPE: MSG_NOSIGNAL
// (POSIX.1-2008; Linux, FreeBSD, recent macOS) where the system defines it, and SO_NOSIGPIPE
// (macOS, FreeBSD) on every socket made here where it exists, an option of the socket itself
// that stays with it when its fd is passed to another process.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../os.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

namespace {

// FD_CLOEXEC, SO_NOSIGPIPE where it exists, and O_NONBLOCK when asked; nullptr, or the call
// that failed with errno set.
const char* set_fd_flags(int fd, bool nonblocking) {
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return "fcntl(FD_CLOEXEC)";
#ifdef SO_NOSIGPIPE
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) != 0) {
    return "setsockopt(SO_NOSIGPIPE)";
  }
#endif
  if (!nonblocking) return nullptr;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return "fcntl(O_NONBLOCK)";
  return nullptr;
}

}  // namespace

namespace os {

proto::Result<UniqueFd> open_unix_socket(bool nonblocking) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
  if (!fd) return system_error("socket", errno);
  if (const char* failed = set_fd_flags(fd.get(), nonblocking)) return system_error(failed, errno);
  return fd;
}

ssize_t receive_message(int socket, msghdr* message) {
  const ssize_t received = ::recvmsg(socket, message, 0);
  if (received < 0) return received;
  // Every fd that arrived, even with MSG_CTRUNC: the caller owns and closes them all.
  for (cmsghdr* header = CMSG_FIRSTHDR(message); header != nullptr;
       header = CMSG_NXTHDR(message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);  // cannot fail on an fd we were just given
    }
  }
  return received;
}

ssize_t send_message(int socket, const msghdr* message) {
#ifdef MSG_NOSIGNAL
  return ::sendmsg(socket, message, MSG_NOSIGNAL);
#else
  return ::sendmsg(socket, message, 0);  // an older macOS: SO_NOSIGPIPE (set_fd_flags)
#endif
}

}  // namespace os

int accept_cloexec(int listening, bool nonblocking) {
  UniqueFd fd(::accept(listening, nullptr, nullptr));
  if (!fd) return -1;
  if (set_fd_flags(fd.get(), nonblocking) != nullptr) {
    const int error = errno;
    fd.reset();
    errno = error;
    return -1;
  }
  return fd.release();
}

Result<std::pair<UniqueFd, UniqueFd>> make_socketpair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return system_error("socketpair", errno);
  std::pair pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
  for (const int fd : fds) {
    if (const char* failed = set_fd_flags(fd, false)) return system_error(failed, errno);
  }
  return pair;
}

}  // namespace fastmd::platform
