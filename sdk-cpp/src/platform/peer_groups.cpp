// Supplementary groups of a socket's peer (see fastmd/platform/peer_groups.hpp).
#include "fastmd/platform/peer_groups.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

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
