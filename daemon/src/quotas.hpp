// quotas.hpp — resource accounting per uid: how many sessions each uid holds and how many
// bytes the daemon has queued for them. Per-session limits live with the session; this is
// what one uid may hold in all, so one user's many peers cannot starve another's. Every use
// of a quota is a charge object that gives itself back when it goes (dbus-broker's
// UserCharge), so no exit path has to remember to balance a count by hand.
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

class Quotas;

/// One open session of a uid, counted while this object holds it (empty once moved from).
class SessionCharge {
 public:
  SessionCharge() = default;
  SessionCharge(SessionCharge&& other) noexcept;
  SessionCharge& operator=(SessionCharge&& other) noexcept;
  ~SessionCharge() { reset(); }
  /// Gives the session back now.
  void reset();

 private:
  friend class Quotas;
  SessionCharge(Quotas& quotas, uid_t uid) : quotas_(&quotas), uid_(uid) {}
  Quotas* quotas_ = nullptr;
  uid_t uid_ = 0;
};

/// The bytes queued for one session of a uid: grows and shrinks with its output queue; what it
/// still holds is given back when it is reset or destroyed.
class QueuedBytesCharge {
 public:
  QueuedBytesCharge() = default;
  QueuedBytesCharge(QueuedBytesCharge&& other) noexcept;
  QueuedBytesCharge& operator=(QueuedBytesCharge&& other) noexcept;
  ~QueuedBytesCharge() { reset(); }

  /// Charges `bytes` more; false (nothing charged) when the uid would exceed
  /// --max-queued-bytes-per-uid.
  bool add(std::uint64_t bytes);
  /// Gives back `bytes` of what this charge holds (at most all of it).
  void remove(std::uint64_t bytes);
  /// Gives back everything.
  void reset() { remove(bytes_); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  friend class Quotas;
  QueuedBytesCharge(Quotas& quotas, uid_t uid) : quotas_(&quotas), uid_(uid) {}
  Quotas* quotas_ = nullptr;
  uid_t uid_ = 0;
  std::uint64_t bytes_ = 0;
};

class Quotas {
 public:
  explicit Quotas(const Limits& limits) : limits_(&limits) {}
  Quotas(const Quotas&) = delete;
  Quotas& operator=(const Quotas&) = delete;

  /// Counts a new connection of `uid` (from accept, before its handshake) while the charge lives.
  SessionCharge open_session(uid_t uid);
  /// An empty queued-bytes charge for a session of `uid`.
  QueuedBytesCharge queued_bytes(uid_t uid) { return QueuedBytesCharge(*this, uid); }

  /// Whether the sessions open now stay within --max-sessions and --max-sessions-per-uid.
  bool sessions_within_limits(uid_t uid) const;
  std::uint32_t total_sessions() const;

  const std::map<uid_t, UidUsage>& usage() const { return usage_; }

 private:
  friend class SessionCharge;
  friend class QueuedBytesCharge;
  void close_session(uid_t uid);
  bool add_queued(uid_t uid, std::uint64_t bytes);
  void remove_queued(uid_t uid, std::uint64_t bytes);
  /// Forgets a uid that holds nothing any more, so usage() lists only users holding something.
  void forget_if_unused(std::map<uid_t, UidUsage>::iterator it);

  const Limits* limits_;
  std::map<uid_t, UidUsage> usage_;
};

}  // namespace fastmd::daemon
