// Portable peer credentials: getpeereid(3) (BSD, macOS, Solaris; on Linux from libbsd), the
// peer's effective uid and gid. Differs from linux/ in what it cannot tell: the peer's pid
// (reported as 0, so no exit watcher can be opened for it) and its supplementary groups
// (peer_groups fails, so a gid allow-list matches the primary gid only).
#include <unistd.h>

#include <cerrno>

#include "fastmd/platform/peer_groups.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

Result<PeerCredentials> peer_credentials(int socket) {
  uid_t uid = 0;
  gid_t gid = 0;
  if (::getpeereid(socket, &uid, &gid) != 0) return system_error("getpeereid", errno);
  return PeerCredentials{0, uid, gid};
}

proto::Result<std::vector<gid_t>> peer_groups(int) {
  return system_error("reading a peer's supplementary groups (getpeereid has none)", ENOTSUP);
}

}  // namespace fastmd::platform
