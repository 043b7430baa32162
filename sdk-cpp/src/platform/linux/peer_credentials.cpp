// Linux peer credentials: SO_PEERCRED (pid, uid, gid as the kernel recorded them at connect)
// and SO_PEERGROUPS (supplementary groups, Linux 4.13+). Differs from posix/ in that POSIX's
// getpeereid gives neither the pid nor the groups.
#include <sys/socket.h>

#include <cerrno>

#include "fastmd/platform/peer_groups.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

Result<PeerCredentials> peer_credentials(int socket) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return system_error("getsockopt(SO_PEERCRED)", errno);
  }
  return PeerCredentials{credentials.pid, credentials.uid, credentials.gid};
}

proto::Result<std::vector<gid_t>> peer_groups(int socket) {
  std::vector<gid_t> groups(16);
  for (;;) {
    socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(socket, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
      groups.resize(length / sizeof(gid_t));
      return groups;
    }
    // ERANGE: the list is longer; the kernel reports the size it needs in `length`.
    if (errno != ERANGE || length / sizeof(gid_t) <= groups.size()) {
      return system_error("getsockopt(SO_PEERGROUPS)", errno);
    }
    groups.resize(length / sizeof(gid_t));
  }
}

}  // namespace fastmd::platform
