// The owner's allocator (see fastmd/shm/segment_writer.hpp). Bookkeeping is process-local:
// `placed_` maps each block's header offset to the bytes it spans; shared memory only sees
// the headers, whose state words readers flip to `released`.
#include "fastmd/shm/segment_writer.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "fastmd/shm/segment.hpp"

namespace fastmd::shm {

namespace {

void store_state(std::byte* header, std::uint32_t generation, BlockState state) {
  header_word(header, offsetof(BlockHeader, state))
      .store(pack_state(generation, state), std::memory_order_release);
}

void store_capacity(std::byte* header, std::uint64_t capacity) {
  header_word(header, offsetof(BlockHeader, capacity)).store(capacity, std::memory_order_relaxed);
}

proto::Error too_large(std::size_t length, const proto::SegmentInfo& info, std::size_t max_block) {
  return proto::Error{proto::Errc::payload_too_large,
                      std::to_string(length) + " bytes exceed the largest block of segment " +
                          std::to_string(info.segment) + " (" + std::to_string(max_block) +
                          " bytes); send them as a one-off memfd"};
}

// Readers that poll released blocks back give no wake-up, so a waiting writer polls with a
// growing pause: short enough to notice a release quickly, long enough not to burn a core.
constexpr auto kFirstPause = std::chrono::microseconds(20);
constexpr auto kLongestPause = std::chrono::microseconds(1000);

}  // namespace

// ---- WriteBlock ----

WriteBlock::WriteBlock(WriteBlock&& other) noexcept
    : writer_(std::exchange(other.writer_, nullptr)),
      offset_(other.offset_),
      capacity_(other.capacity_) {}

WriteBlock& WriteBlock::operator=(WriteBlock&& other) noexcept {
  if (this != &other) {
    abandon();
    writer_ = std::exchange(other.writer_, nullptr);
    offset_ = other.offset_;
    capacity_ = other.capacity_;
  }
  return *this;
}

WriteBlock::~WriteBlock() {
  abandon();
}

std::span<std::byte> WriteBlock::data() const {
  if (writer_ == nullptr) return {};
  return {writer_->mapping_.data() + offset_, capacity_};
}

proto::Status WriteBlock::grow(std::size_t new_capacity, std::size_t keep,
                               std::chrono::milliseconds wait) {
  if (writer_ == nullptr) throw std::logic_error("WriteBlock::grow on an empty block");
  if (keep > capacity_ || keep > new_capacity) {
    throw std::out_of_range("WriteBlock::grow: cannot keep more bytes than the block holds");
  }
  auto moved = writer_->grow_block(offset_, new_capacity, keep, wait);
  if (!moved) return moved.error();
  offset_ = *moved;
  capacity_ = new_capacity;
  return {};
}

proto::ShmHandle WriteBlock::seal(std::size_t used_length) {
  if (writer_ == nullptr) throw std::logic_error("WriteBlock::seal on an empty block");
  if (used_length > capacity_) {
    throw std::out_of_range("WriteBlock::seal: used length exceeds the block's capacity");
  }
  SegmentWriter* writer = std::exchange(writer_, nullptr);
  return writer->seal_block(offset_, used_length);
}

void WriteBlock::abandon() {
  if (writer_ != nullptr) std::exchange(writer_, nullptr)->abandon_block(offset_);
}

// ---- SegmentWriter ----

proto::Result<std::unique_ptr<SegmentWriter>> SegmentWriter::open(platform::UniqueFd fd,
                                                                  const proto::SegmentInfo& info) {
  auto mapping = map_segment(fd.get(), info);
  if (!mapping) return mapping.error();
  return std::unique_ptr<SegmentWriter>(
      new SegmentWriter(std::move(fd), std::move(*mapping), info));
}

SegmentWriter::SegmentWriter(platform::UniqueFd fd, platform::Mapping mapping,
                             const proto::SegmentInfo& info)
    : fd_(std::move(fd)), mapping_(std::move(mapping)), info_(info), cursor_(kFirstBlockOffset) {}

SegmentWriter::~SegmentWriter() = default;

std::size_t SegmentWriter::max_block() const {
  return static_cast<std::size_t>(info_.size - kFirstBlockOffset - sizeof(BlockHeader));
}

std::byte* SegmentWriter::header_at(std::uint64_t header_offset) const {
  return mapping_.data() + header_offset;
}

WriterStats SegmentWriter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

proto::Result<WriteBlock> SegmentWriter::allocate(std::size_t length,
                                                  std::chrono::milliseconds wait) {
  if (length > max_block()) return too_large(length, info_, max_block());
  // A peer holding the segment's fd may shrink it (where nothing seals it): once an access
  // faulted, the ring lies on private zero pages that no reader sees. Asked before and after
  // reserving, which reads and writes headers.
  const auto truncated = [&] {
    return proto::Error{proto::Errc::shm_bad_fd, "segment " + std::to_string(info_.segment) +
                                                     " was truncated by a peer; lease a new one"};
  };
  if (mapping_.broken()) return truncated();
  std::unique_lock lock(mutex_);
  auto header_offset = reserve(length, wait, lock);
  if (mapping_.broken()) return truncated();
  if (!header_offset) return header_offset.error();
  return WriteBlock(this, *header_offset + sizeof(BlockHeader), length);
}

proto::Result<std::uint64_t> SegmentWriter::reserve(std::uint64_t capacity,
                                                    std::chrono::milliseconds wait,
                                                    std::unique_lock<std::mutex>& lock) {
  const std::uint64_t span = sizeof(BlockHeader) + round_to_cache_line(capacity);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto pause = std::chrono::duration_cast<std::chrono::microseconds>(kFirstPause);
  bool waited = false;
  for (;;) {
    auto gap = find_gap(span);
    if (!gap) {
      // Lazy reclaim: released blocks are only looked at when the ring has no room left.
      reclaim_released();
      gap = find_gap(span);
    }
    if (!gap && when_full_) {
      // take_back() locks the writer itself; the owner's hook may take its own lock first.
      lock.unlock();
      when_full_();
      lock.lock();
      gap = find_gap(span);
    }
    if (gap) {
      if (waited) ++stats_.waits;
      return place(*gap, span);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ++stats_.no_space;
      return proto::Error{proto::Errc::shm_no_space,
                          "no room for " + std::to_string(capacity) + " bytes in segment " +
                              std::to_string(info_.segment) + " within " +
                              std::to_string(wait.count()) + " ms (" +
                              std::to_string(placed_.size()) + " blocks, " +
                              std::to_string(stats_.bytes_held) + " bytes still held by readers)"};
    }
    waited = true;
    lock.unlock();
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    lock.lock();
    pause =
        std::min(pause * 2, std::chrono::duration_cast<std::chrono::microseconds>(kLongestPause));
  }
}

std::optional<std::uint64_t> SegmentWriter::find_gap(std::uint64_t span) const {
  // First gap of `span` bytes in [from, info_.size), walking the blocks in offset order.
  const auto first_fit = [&](std::uint64_t from) -> std::optional<std::uint64_t> {
    std::uint64_t position = from;
    auto next = placed_.lower_bound(from);
    if (next != placed_.begin()) {
      const auto& [offset, block] = *std::prev(next);
      position = std::max(position, offset + block.span);
    }
    for (;; ++next) {
      const std::uint64_t gap_end = next == placed_.end() ? info_.size : next->first;
      if (gap_end >= position && gap_end - position >= span) return position;
      if (next == placed_.end()) return std::nullopt;
      position = std::max(position, next->first + next->second.span);
    }
  };
  if (auto at = first_fit(cursor_)) return at;
  return first_fit(kFirstBlockOffset);  // wrap around once
}

std::uint64_t SegmentWriter::place(std::uint64_t header_offset, std::uint64_t span) {
  placed_.emplace(header_offset, Placed{span, false});
  cursor_ = header_offset + span;
  ++stats_.allocations;
  stats_.blocks_held = placed_.size();
  stats_.bytes_held += span;

  std::byte* header = header_at(header_offset);
  header_word(header, offsetof(BlockHeader, magic)).store(kBlockMagic, std::memory_order_relaxed);
  header_word(header, offsetof(BlockHeader, offset))
      .store(header_offset + sizeof(BlockHeader), std::memory_order_relaxed);
  header_word(header, offsetof(BlockHeader, length)).store(0, std::memory_order_relaxed);
  store_capacity(header, span - sizeof(BlockHeader));
  store_state(header, info_.generation, BlockState::writing);
  return header_offset;
}

void SegmentWriter::reclaim_released() {
  for (auto it = placed_.begin(); it != placed_.end();) {
    std::byte* header = header_at(it->first);
    const std::uint64_t word =
        header_word(header, offsetof(BlockHeader, state)).load(std::memory_order_acquire);
    if (it->second.sealed && word == pack_state(info_.generation, BlockState::released)) {
      store_state(header, info_.generation, BlockState::free);
      stats_.bytes_held -= it->second.span;
      ++stats_.reclaimed;
      it = placed_.erase(it);
    } else {
      ++it;
    }
  }
  stats_.blocks_held = placed_.size();
}

void SegmentWriter::lend(const proto::ShmHandle& handle, HolderId holder) {
  if (handle.segment != info_.segment || handle.generation != info_.generation ||
      handle.offset < kFirstBlockOffset + sizeof(BlockHeader)) {
    return;
  }
  std::lock_guard lock(mutex_);
  auto it = placed_.find(handle.offset - sizeof(BlockHeader));
  if (it != placed_.end() && it->second.sealed) it->second.holder = holder;
}

std::size_t SegmentWriter::lent_to(HolderId holder) const {
  std::lock_guard lock(mutex_);
  const std::uint64_t released = pack_state(info_.generation, BlockState::released);
  std::size_t count = 0;
  for (const auto& [offset, block] : placed_) {
    if (block.sealed && block.holder == holder &&
        header_word(header_at(offset), offsetof(BlockHeader, state))
                .load(std::memory_order_acquire) != released) {
      ++count;
    }
  }
  return count;
}

std::size_t SegmentWriter::take_back(HolderId holder) {
  if (holder == 0) return 0;
  std::lock_guard lock(mutex_);
  std::size_t count = 0;
  for (auto it = placed_.begin(); it != placed_.end();) {
    if (it->second.sealed && it->second.holder == holder) {
      // The reader is gone: nobody views the block any more, whatever its state word says.
      store_state(header_at(it->first), info_.generation, BlockState::free);
      stats_.bytes_held -= it->second.span;
      it = placed_.erase(it);
      ++count;
    } else {
      ++it;
    }
  }
  stats_.taken_back += count;
  stats_.blocks_held = placed_.size();
  return count;
}

void SegmentWriter::forget(std::uint64_t header_offset) {
  auto it = placed_.find(header_offset);
  if (it == placed_.end()) return;
  store_state(header_at(header_offset), info_.generation, BlockState::free);
  stats_.bytes_held -= it->second.span;
  placed_.erase(it);
  stats_.blocks_held = placed_.size();
}

bool SegmentWriter::try_extend(std::uint64_t header_offset, std::uint64_t new_span) {
  auto it = placed_.find(header_offset);
  if (new_span <= it->second.span) return true;
  const auto next = std::next(it);
  const std::uint64_t limit = next == placed_.end() ? info_.size : next->first;
  if (header_offset + new_span > limit) return false;
  stats_.bytes_held += new_span - it->second.span;
  if (cursor_ == header_offset + it->second.span) cursor_ = header_offset + new_span;
  it->second.span = new_span;
  store_capacity(header_at(header_offset), new_span - sizeof(BlockHeader));
  return true;
}

proto::ShmHandle SegmentWriter::seal_block(std::uint64_t payload_offset, std::size_t used_length) {
  std::lock_guard lock(mutex_);
  const std::uint64_t header_offset = payload_offset - sizeof(BlockHeader);
  auto& block = placed_.at(header_offset);
  // Write-then-shrink: the tail the payload did not use is free again at once, and the
  // next block goes right after this one.
  const std::uint64_t used_span = sizeof(BlockHeader) + round_to_cache_line(used_length);
  if (used_span < block.span) {
    if (cursor_ == header_offset + block.span) cursor_ = header_offset + used_span;
    stats_.bytes_held -= block.span - used_span;
    block.span = used_span;
  }
  block.sealed = true;
  std::byte* header = header_at(header_offset);
  store_capacity(header, block.span - sizeof(BlockHeader));
  header_word(header, offsetof(BlockHeader, length)).store(used_length, std::memory_order_relaxed);
  store_state(header, info_.generation, BlockState::sealed);  // publishes payload and fields
  return proto::ShmHandle{info_.segment, payload_offset, used_length, info_.generation};
}

void SegmentWriter::abandon_block(std::uint64_t payload_offset) {
  std::lock_guard lock(mutex_);
  forget(payload_offset - sizeof(BlockHeader));
}

void SegmentWriter::discard(const proto::ShmHandle& handle) {
  if (handle.segment != info_.segment || handle.generation != info_.generation ||
      handle.offset < kFirstBlockOffset + sizeof(BlockHeader)) {
    return;
  }
  std::lock_guard lock(mutex_);
  const std::uint64_t header_offset = handle.offset - sizeof(BlockHeader);
  auto it = placed_.find(header_offset);
  if (it != placed_.end() && it->second.sealed) forget(header_offset);
}

proto::Result<std::uint64_t> SegmentWriter::grow_block(std::uint64_t payload_offset,
                                                       std::size_t new_capacity, std::size_t keep,
                                                       std::chrono::milliseconds wait) {
  if (new_capacity > max_block()) return too_large(new_capacity, info_, max_block());
  std::unique_lock lock(mutex_);
  const std::uint64_t header_offset = payload_offset - sizeof(BlockHeader);
  if (try_extend(header_offset, sizeof(BlockHeader) + round_to_cache_line(new_capacity))) {
    return payload_offset;
  }
  auto moved_header = reserve(new_capacity, wait, lock);
  if (!moved_header) return moved_header.error();
  const std::uint64_t moved_payload = *moved_header + sizeof(BlockHeader);
  // Both blocks belong to the caller's WriteBlock, so the copy needs no lock.
  lock.unlock();
  std::memcpy(mapping_.data() + moved_payload, mapping_.data() + payload_offset, keep);
  lock.lock();
  forget(header_offset);
  return moved_payload;
}

}  // namespace fastmd::shm
