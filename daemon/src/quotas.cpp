// Per-uid resource accounting (see quotas.hpp).
#include "quotas.hpp"

#include <algorithm>
#include <utility>

namespace fastmd::daemon {

SessionCharge::SessionCharge(SessionCharge&& other) noexcept
    : quotas_(std::exchange(other.quotas_, nullptr)), uid_(other.uid_) {}

SessionCharge& SessionCharge::operator=(SessionCharge&& other) noexcept {
  if (this != &other) {
    reset();
    quotas_ = std::exchange(other.quotas_, nullptr);
    uid_ = other.uid_;
  }
  return *this;
}

void SessionCharge::reset() {
  if (quotas_ != nullptr) std::exchange(quotas_, nullptr)->close_session(uid_);
}

QueuedBytesCharge::QueuedBytesCharge(QueuedBytesCharge&& other) noexcept
    : quotas_(std::exchange(other.quotas_, nullptr)),
      uid_(other.uid_),
      bytes_(std::exchange(other.bytes_, 0)) {}

QueuedBytesCharge& QueuedBytesCharge::operator=(QueuedBytesCharge&& other) noexcept {
  if (this != &other) {
    reset();
    quotas_ = std::exchange(other.quotas_, nullptr);
    uid_ = other.uid_;
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool QueuedBytesCharge::add(std::uint64_t bytes) {
  if (quotas_ == nullptr || !quotas_->add_queued(uid_, bytes)) return false;
  bytes_ += bytes;
  return true;
}

void QueuedBytesCharge::remove(std::uint64_t bytes) {
  bytes = std::min(bytes, bytes_);
  if (quotas_ == nullptr || bytes == 0) return;
  bytes_ -= bytes;
  quotas_->remove_queued(uid_, bytes);
}

SessionCharge Quotas::open_session(uid_t uid) {
  ++usage_[uid].sessions;
  return SessionCharge(*this, uid);
}

void Quotas::close_session(uid_t uid) {
  auto it = usage_.find(uid);
  if (it == usage_.end()) return;
  --it->second.sessions;
  forget_if_unused(it);
}

bool Quotas::add_queued(uid_t uid, std::uint64_t bytes) {
  UidUsage& usage = usage_[uid];
  if (usage.queued_bytes + bytes > limits_->max_queued_bytes_per_uid) return false;
  usage.queued_bytes += bytes;
  return true;
}

void Quotas::remove_queued(uid_t uid, std::uint64_t bytes) {
  auto it = usage_.find(uid);
  if (it == usage_.end()) return;
  it->second.queued_bytes -= std::min(it->second.queued_bytes, bytes);
  forget_if_unused(it);
}

void Quotas::forget_if_unused(std::map<uid_t, UidUsage>::iterator it) {
  if (it->second.sessions == 0 && it->second.queued_bytes == 0) usage_.erase(it);
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

}  // namespace fastmd::daemon
