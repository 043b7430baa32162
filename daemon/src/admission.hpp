// admission.hpp — who may use the daemon: the kernel's SO_PEERCRED credentials of a peer
// and SO_PEERGROUPS (never what the peer claims) against the daemon's own uid and a configured
// allow-list of uids and gids. Root (uid 0) may always observe (ipc.status, read-only): it can
// read the daemon's memory anyway, so refusing it protects nothing and only makes
// `sudo fastmd-ipcctl status` fail against the system service. Serving or calling methods as
// root still needs allow-uid = [0], so a worker is never root by accident.
#pragma once

#include <sys/types.h>

#include <vector>

#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::daemon {

struct AdmissionPolicy {
  uid_t daemon_uid = 0;
  std::vector<uid_t> allow_uids;
  std::vector<gid_t> allow_gids;
};

/// OK when the peer's uid is the daemon's or allowed, or its primary gid or one of its
/// supplementary `groups` (SO_PEERGROUPS) is allowed, or it is root saying hello as an
/// observer; PERMISSION_DENIED naming the uid and how to allow it otherwise.
proto::Status admit(const platform::PeerCredentials& peer, proto::Role role,
                    const std::vector<gid_t>& groups, const AdmissionPolicy& policy);

}  // namespace fastmd::daemon
