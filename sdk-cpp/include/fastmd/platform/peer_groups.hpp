// fastmd/platform/peer_groups.hpp — the supplementary groups the kernel recorded for the other
// end of a connected Unix socket (SO_PEERGROUPS, Linux 4.13+), next to SO_PEERCRED's primary
// gid: a daemon can admit members of a group, not only users whose primary group it is.
#pragma once

#include <sys/types.h>

#include <vector>

#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// The peer's supplementary gids; IO_ERROR (e.g. ENOPROTOOPT on old kernels) when unknown.
proto::Result<std::vector<gid_t>> peer_groups(int socket);

}  // namespace fastmd::platform
