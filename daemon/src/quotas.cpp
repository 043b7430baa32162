// Per-uid resource accounting (see quotas.hpp).
#include "quotas.hpp"

#include <algorithm>

namespace fastmd::daemon {

void Quotas::session_closed(uid_t uid, std::uint64_t queued_bytes) {
  auto it = usage_.find(uid);
  if (it == usage_.end()) return;
  UidUsage& usage = it->second;
  usage.queued_bytes -= std::min(usage.queued_bytes, queued_bytes);
  if (--usage.sessions == 0) usage_.erase(it);
}

std::uint32_t Quotas::total_sessions() const {
  std::uint32_t total = 0;
  for (const auto& [uid, usage] : usage_) total += usage.sessions;
  return total;
}

bool Quotas::sessions_within_limits(uid_t uid) const {
  auto it = usage_.find(uid);
  const std::uint32_t mine = it == usage_.end() ? 0 : it->second.sessions;
  return mine <= limits_->max_sessions_per_uid && total_sessions() <= limits_->max_sessions;
}

bool Quotas::charge_queued(uid_t uid, std::uint64_t bytes) {
  UidUsage& usage = usage_[uid];
  if (usage.queued_bytes + bytes > limits_->max_queued_bytes_per_uid) return false;
  usage.queued_bytes += bytes;
  return true;
}

void Quotas::release_queued(uid_t uid, std::uint64_t bytes) {
  auto it = usage_.find(uid);
  if (it == usage_.end()) return;
  it->second.queued_bytes -= std::min(it->second.queued_bytes, bytes);
}

}  // namespace fastmd::daemon
