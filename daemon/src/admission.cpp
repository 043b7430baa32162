// Peer admission by credentials (see admission.hpp).
#include "admission.hpp"

#include <algorithm>
#include <string>

namespace fastmd::daemon {

proto::Status admit(const platform::PeerCredentials& peer, proto::Role role,
                    const std::vector<gid_t>& groups, const AdmissionPolicy& policy) {
  if (peer.uid == 0 && role == proto::Role::observer) return {};
  const auto contains = [](const auto& list, auto value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  if (peer.uid == policy.daemon_uid || contains(policy.allow_uids, peer.uid) ||
      contains(policy.allow_gids, peer.gid)) {
    return {};
  }
  for (gid_t group : groups) {
    if (contains(policy.allow_gids, group)) return {};
  }
  return proto::Error{
      proto::Errc::permission_denied,
      "uid " + std::to_string(peer.uid) + " (gid " + std::to_string(peer.gid) +
          ") may not use this daemon, which runs as uid " + std::to_string(policy.daemon_uid) +
          "; allow it with --allow-uid or --allow-gid" +
          (peer.uid == 0 ? " (root is admitted without them as an observer only)" : "")};
}

}  // namespace fastmd::daemon
