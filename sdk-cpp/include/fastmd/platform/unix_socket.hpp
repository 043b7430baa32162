// fastmd/platform/unix_socket.hpp — Unix-domain stream sockets: listen, connect, accept,
// socketpair, and the peer's credentials (SO_PEERCRED on Linux, getpeereid elsewhere). Every
// fd is CLOEXEC (atomically on Linux; by fcntl right after creation under POSIX).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

using proto::Result;

/// The Error for a failed system call: IO_ERROR, "what: strerror(errno)".
proto::Error system_error(std::string_view what, int errno_value);

/// Binds and listens on `path` (SOCK_STREAM, non-blocking, CLOEXEC). The path must not exist;
/// it appears once the socket accepts (bound beside it and linked into place).
Result<UniqueFd> listen_unix(const std::string& path, int backlog = 512);

/// Connects to `path` (blocking connect; the fd is returned blocking, CLOEXEC).
/// Fails with DAEMON_UNREACHABLE when nothing listens there.
Result<UniqueFd> connect_unix(const std::string& path);

/// accept(2) on `listening`, the new fd CLOEXEC (and O_NONBLOCK when `nonblocking`): the fd,
/// or -1 with errno set exactly as accept(2) sets it (EAGAIN, EMFILE, ...).
int accept_cloexec(int listening, bool nonblocking);

/// A connected pair of SOCK_STREAM sockets, both CLOEXEC: the daemon's introductions.
Result<std::pair<UniqueFd, UniqueFd>> make_socketpair();

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// The credentials the kernel recorded for the other end of a connected Unix socket. `pid` is 0
/// where the platform does not tell it (capabilities().peer_pid is false).
Result<PeerCredentials> peer_credentials(int socket);

/// Sets O_NONBLOCK on or off.
proto::Status set_nonblocking(int fd, bool on);

}  // namespace fastmd::platform
