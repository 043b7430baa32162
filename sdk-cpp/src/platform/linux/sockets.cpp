// Linux sockets: every new fd is close-on-exec atomically (SOCK_CLOEXEC, accept4,
// MSG_CMSG_CLOEXEC), so a fork+exec in another thread can never inherit it. Differs from
// posix/ only in that atomicity; posix/ sets FD_CLOEXEC right after each call.
#include <sys/socket.h>

#include <cerrno>

#include "../os.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

namespace os {

proto::Result<UniqueFd> open_unix_socket(bool nonblocking) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!fd) return system_error("socket", errno);
  return fd;
}

ssize_t receive_message(int socket, msghdr* message) {
  return ::recvmsg(socket, message, MSG_CMSG_CLOEXEC);
}

ssize_t send_message(int socket, const msghdr* message) {
  return ::sendmsg(socket, message, MSG_NOSIGNAL);
}

}  // namespace os

int accept_cloexec(int listening, bool nonblocking) {
  return ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
}

Result<std::pair<UniqueFd, UniqueFd>> make_socketpair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return system_error("socketpair", errno);
  }
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace fastmd::platform
