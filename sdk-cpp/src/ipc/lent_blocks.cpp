// The owner's record of lent blocks (see lent_blocks.hpp).
#include "lent_blocks.hpp"

#include <poll.h>

#include "fastmd/platform/exit_watcher.hpp"

namespace fastmd::ipc::detail {

namespace {

// An exit watcher (a pidfd on Linux) is readable once its process has exited.
bool exited(const platform::UniqueFd& watcher) {
  pollfd watch{watcher.get(), POLLIN, 0};
  return ::poll(&watch, 1, 0) > 0 && (watch.revents & POLLIN) != 0;
}

}  // namespace

void LentBlocks::opened(const DirectChannel* channel, const proto::Introduce& peer,
                        const std::shared_ptr<OwnSegment>& segment) {
  Holder holder;
  holder.segment = segment;
  holder.peer = "'" + peer.name + "' (pid " + std::to_string(peer.pid) + ")";
  std::lock_guard lock(mutex_);
  holder.exit_watcher = exit_watcher_of_locked(peer.pid);
  holder.id = next_id_++;
  open_.insert_or_assign(channel, std::move(holder));
}

LentBlocks::ExitWatcher LentBlocks::exit_watcher_of_locked(std::uint32_t pid) {
  std::erase_if(exit_watchers_, [](const auto& entry) { return entry.second.expired(); });
  if (auto known = exit_watchers_[pid].lock(); known && !exited(*known)) return known;
  // A pid that names no process (or a platform without exit watchers) leaves the blocks to the
  // state words: only an exit watcher tells the peer's exit without a pid-reuse race. One whose
  // process exited is not shared with a newcomer that reuses its pid.
  auto opened = platform::open_exit_watcher(static_cast<pid_t>(pid));
  if (!opened || !*opened) return nullptr;  // no watcher on this platform: EOF alone
  auto watcher = std::make_shared<const platform::UniqueFd>(std::move(*opened));
  exit_watchers_[pid] = watcher;
  return watcher;
}

bool LentBlocks::lend(const DirectChannel* channel, OwnSegment& segment,
                      const proto::ShmHandle& handle) {
  shm::HolderId id = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = open_.find(channel); it != open_.end()) id = it->second.id;
  }
  if (id == 0) {
    // A handler finished after its channel ended: nobody can receive this handle.
    segment.writer->discard(handle);
    return false;
  }
  segment.writer->lend(handle, id);
  return true;
}

void LentBlocks::closed(const DirectChannel* channel) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(channel);
  if (it == open_.end()) return;
  Holder holder = std::move(it->second);
  open_.erase(it);
  if (settle_locked(holder)) return;
  ended_.push_back(std::move(holder));
  next_check_ = std::min(next_check_, Clock::now() + kCheckEvery);
}

LentBlocks::Clock::time_point LentBlocks::next_check() const {
  std::lock_guard lock(mutex_);
  return next_check_;
}

void LentBlocks::check(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now < next_check_) return;
  settle_ended_locked(now);
}

void LentBlocks::take_back_from_exited() {
  std::lock_guard lock(mutex_);
  if (!ended_.empty()) settle_ended_locked(Clock::now());
}

void LentBlocks::settle_ended_locked(Clock::time_point now) {
  std::erase_if(ended_, [&](Holder& holder) { return settle_locked(holder); });
  next_check_ = ended_.empty() ? Clock::time_point::max() : now + kCheckEvery;
}

bool LentBlocks::settle_locked(Holder& holder) {
  const std::shared_ptr<OwnSegment> segment = holder.segment.lock();
  // Without a watcher, or with the segment gone (an earlier daemon's), there is nothing to do.
  if (!segment || !holder.exit_watcher) return true;
  shm::SegmentWriter& writer = *segment->writer;
  if (exited(*holder.exit_watcher)) {
    if (const std::size_t taken = writer.take_back(holder.id); taken > 0 && on_taken_back_) {
      on_taken_back_(taken, holder.peer);
    }
    return true;
  }
  // Alive: the blocks come back through their state words; watch only while some are held.
  return writer.lent_to(holder.id) == 0;
}

}  // namespace fastmd::ipc::detail
