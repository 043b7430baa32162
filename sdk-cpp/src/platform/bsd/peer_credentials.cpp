// macOS and FreeBSD peer credentials (untested here: compiles only there, docs/platforms.md):
// LOCAL_PEERCRED gives the peer's uid and groups (struct xucred, cr_groups[0] its effective
// gid); the pid comes from LOCAL_PEERPID on macOS (10.8+) and from xucred's cr_pid on FreeBSD
// (13+) (unix(4) on each). Replaces posix/peer_credentials.cpp, which cannot tell the pid or
// the groups.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/ucred.h>
#include <sys/un.h>

#include <cerrno>

#include "fastmd/platform/peer_groups.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

namespace {

Result<xucred> peer_xucred(int socket) {
  xucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(socket, SOL_LOCAL, LOCAL_PEERCRED, &credentials, &length) != 0) {
    return system_error("getsockopt(LOCAL_PEERCRED)", errno);
  }
  if (credentials.cr_version != XUCRED_VERSION || credentials.cr_ngroups < 1) {
    return system_error("getsockopt(LOCAL_PEERCRED): unexpected struct xucred", EPROTO);
  }
  return credentials;
}

}  // namespace

Result<PeerCredentials> peer_credentials(int socket) {
  auto credentials = peer_xucred(socket);
  if (!credentials) return credentials.error();
#ifdef LOCAL_PEERPID
  pid_t pid = 0;
  socklen_t length = sizeof(pid);
  if (::getsockopt(socket, SOL_LOCAL, LOCAL_PEERPID, &pid, &length) != 0) {
    return system_error("getsockopt(LOCAL_PEERPID)", errno);
  }
#else
  const pid_t pid = credentials->cr_pid;
#endif
  return PeerCredentials{pid, credentials->cr_uid, credentials->cr_groups[0]};
}

proto::Result<std::vector<gid_t>> peer_groups(int socket) {
  auto credentials = peer_xucred(socket);
  if (!credentials) return credentials.error();
  return std::vector<gid_t>(credentials->cr_groups + 1,
                            credentials->cr_groups + credentials->cr_ngroups);
}

}  // namespace fastmd::platform
