// Unix-domain stream sockets, the portable part (see fastmd/platform/unix_socket.hpp): making
// the socket CLOEXEC, accept, socketpair and the peer's credentials are the implementation
// directory's (linux/sockets.cpp, posix/sockets.cpp, */peer_credentials.cpp).
#include "fastmd/platform/unix_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "os.hpp"

namespace fastmd::platform {

using proto::Errc;
using proto::Error;

Error system_error(std::string_view what, int errno_value) {
  return Error{Errc::io_error, std::string(what) + ": " + std::strerror(errno_value)};
}

namespace {

Result<sockaddr_un> make_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return Error{Errc::invalid_field, "socket path '" + path + "' is empty or longer than " +
                                          std::to_string(sizeof(address.sun_path) - 1) + " bytes"};
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& path, int backlog) {
  auto address = make_address(path);
  if (!address) return address.error();
  // The path appears only once the socket accepts: it is bound under a name of its own
  // beside `path`, listens, and is linked into place, so a peer that waits for the file and
  // connects at once is never refused in the moment between bind() and listen() (a peer
  // polling for the file met that in 4-8 of 200 daemon starts, and bench/run failed on it
  // once). link() keeps bind()'s refusal of an existing path. A name left by a process of the
  // same pid that died halfway is removed first; a path too long for the extra name is bound
  // directly.
  const std::string bound_as = path + "." + std::to_string(::getpid()) + ".new";
  auto staged = make_address(bound_as);
  auto opened = os::open_unix_socket(true);
  if (!opened) return opened.error();
  UniqueFd fd = std::move(*opened);
  if (staged) ::unlink(bound_as.c_str());
  const sockaddr_un& first = staged ? *staged : *address;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&first), sizeof(first)) != 0) {
    return system_error("bind " + std::string(first.sun_path), errno);
  }
  const char* failed = ::listen(fd.get(), backlog) != 0                        ? "listen "
                       : staged && ::link(bound_as.c_str(), path.c_str()) != 0 ? "bind "
                                                                               : nullptr;
  const int error = errno;
  if (staged) ::unlink(bound_as.c_str());
  if (failed) return system_error(failed + path, error);
  return fd;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  auto address = make_address(path);
  if (!address) return address.error();
  auto opened = os::open_unix_socket(false);
  if (!opened) return opened.error();
  UniqueFd fd = std::move(*opened);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    return Error{Errc::daemon_unreachable,
                 "cannot connect to " + path + ": " + std::strerror(error)};
  }
  return fd;
}

proto::Status set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return system_error("fcntl(F_GETFL)", errno);
  const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) != 0) {
    return system_error("fcntl(F_SETFL)", errno);
  }
  return {};
}

}  // namespace fastmd::platform
