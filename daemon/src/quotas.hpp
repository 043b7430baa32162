// quotas.hpp — resource accounting per uid: how many sessions each uid holds and how many
// bytes the daemon has queued for them. Per-session limits live with the session; this is
// what one uid may hold in all, so one user's many peers cannot starve another's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>

#include "config.hpp"

namespace fastmd::daemon {

struct UidUsage {
  std::uint32_t sessions = 0;
  std::uint64_t queued_bytes = 0;
};

class Quotas {
 public:
  explicit Quotas(const Limits& limits) : limits_(&limits) {}

  /// Counts a new connection of `uid` (from accept, before its handshake).
  void session_opened(uid_t uid) { ++usage_[uid].sessions; }
  /// Forgets a connection of `uid`; `queued_bytes` is what it still had queued.
  void session_closed(uid_t uid, std::uint64_t queued_bytes);

  /// Whether the sessions open now stay within --max-sessions and --max-sessions-per-uid.
  bool sessions_within_limits(uid_t uid) const;
  std::uint32_t total_sessions() const;

  /// Charges `bytes` queued for a session of `uid`; false (nothing charged) when that
  /// would exceed --max-queued-bytes-per-uid.
  bool charge_queued(uid_t uid, std::uint64_t bytes);
  void release_queued(uid_t uid, std::uint64_t bytes);

  const std::map<uid_t, UidUsage>& usage() const { return usage_; }

 private:
  const Limits* limits_;
  std::map<uid_t, UidUsage> usage_;
};

}  // namespace fastmd::daemon
