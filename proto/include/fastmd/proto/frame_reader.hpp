// fastmd/proto/frame_reader.hpp — splits a byte stream into frames. The caller reads from
// its socket into writable(), commits what arrived, then takes complete frames with next().
// A length prefix is judged the moment its 4 bytes are in, before the body is buffered, and
// the buffer grows only as bytes arrive (doubling), never to the size a prefix announces: a
// peer that sends a large prefix and nothing else costs the receiver nothing. A buffer that
// grew for large frames is kept while they keep coming (growing it again costs a fresh
// mapping and its page faults for every frame) and given back after a run of small ones.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "fastmd/proto/codec.hpp"

namespace fastmd::proto {

class FrameReader {
 public:
  /// shrink_to() gives a large buffer back after this many looks in a row that found it
  /// empty, with no more than the wanted capacity buffered at once since the previous look.
  static constexpr int kSmallLooksBeforeShrink = 16;

  explicit FrameReader(std::uint32_t max_frame, std::size_t initial_capacity = 64 * 1024)
      : max_frame_(max_frame), buffer_(allocate(initial_capacity)), capacity_(initial_capacity) {}

  /// Space to read at least `min_free` bytes into. Moves unread bytes to the front, so any
  /// frame returned by next() before this call is invalidated.
  std::span<std::byte> writable(std::size_t min_free = 16 * 1024) {
    if (begin_ > 0) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      scanned_ -= begin_;
      begin_ = 0;
    }
    // Doubling keeps the copies amortised; the buffer stays within twice what arrived. The
    // new space is not zeroed: the socket writes it before anything reads it.
    const std::size_t want = end_ + min_free;
    if (capacity_ < want) {
      const std::size_t grown = std::max(want, capacity_ * 2);
      auto larger = allocate(grown);
      std::memcpy(larger.get(), buffer_.get(), end_);
      buffer_ = std::move(larger);
      capacity_ = grown;
    }
    return {buffer_.get() + end_, capacity_ - end_};
  }

  /// Marks `n` bytes of the last writable() span as received.
  void commit(std::size_t n) {
    end_ += n;
    peak_ = std::max(peak_, end_);
    // Steps over the complete frames that arrived (an invalid prefix stops the walk: next()
    // reports it), so ends_mid_frame() costs nothing per call.
    while (!bad_prefix_ && end_ - scanned_ >= kFrameHeaderBytes) {
      const std::uint32_t length = load_u32_le(buffer_.get() + scanned_);
      bad_prefix_ = !frame_length_ok(length, max_frame_);
      if (bad_prefix_ || end_ - scanned_ - kFrameHeaderBytes < length) break;
      scanned_ += kFrameHeaderBytes + length;
    }
  }

  /// True when the bytes buffered end inside a frame: its sender is still writing it. False
  /// behind a length prefix next() will refuse: nothing more is worth reading.
  bool ends_mid_frame() const { return scanned_ != end_ && !bad_prefix_; }

  /// The next complete frame body, std::nullopt if more bytes are needed, or the error that
  /// ends the connection (FRAME_EMPTY, FRAME_TOO_LARGE). A body stays valid until writable().
  Result<std::optional<ByteView>> next() {
    const std::size_t available = end_ - begin_;
    if (available < kFrameHeaderBytes) return std::optional<ByteView>{};
    const std::uint32_t length = load_u32_le(buffer_.get() + begin_);
    auto checked = check_frame_length(length, max_frame_);
    if (!checked) return checked.error();
    if (available - kFrameHeaderBytes < length) {
      pending_length_ = length;
      return std::optional<ByteView>{};
    }
    pending_length_ = 0;
    ByteView body{buffer_.get() + begin_ + kFrameHeaderBytes, length};
    begin_ += kFrameHeaderBytes + length;
    return std::optional<ByteView>{body};
  }

  /// The length prefix of the frame being received, once next() found it incomplete (0
  /// before its 4 bytes are in).
  std::uint32_t pending_length() const { return pending_length_; }

  /// Bytes received but not yet returned as frames.
  std::size_t buffered() const { return end_ - begin_; }

  /// Bytes the buffer holds room for.
  std::size_t capacity() const { return capacity_; }

  /// Called between reads: gives the memory of large frames back once the buffer has been
  /// found empty kSmallLooksBeforeShrink times in a row with no more than `capacity` bytes
  /// buffered at once since the look before (a large frame, or a burst of small ones).
  void shrink_to(std::size_t capacity) {
    if (begin_ != end_ || capacity_ <= capacity) return;
    const bool needed = peak_ > capacity;
    peak_ = 0;
    small_looks_ = needed ? 0 : small_looks_ + 1;
    if (small_looks_ < kSmallLooksBeforeShrink) return;
    begin_ = end_ = scanned_ = 0;
    small_looks_ = 0;
    buffer_ = allocate(capacity);
    capacity_ = capacity;
  }

 private:
  static std::unique_ptr<std::byte[]> allocate(std::size_t size) {
    return std::make_unique_for_overwrite<std::byte[]>(size);
  }

  std::uint32_t max_frame_;
  std::unique_ptr<std::byte[]> buffer_;
  std::size_t capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t scanned_ = 0;  // the end of the complete frames buffered
  std::size_t peak_ = 0;     // the most bytes buffered since the last shrink_to()
  int small_looks_ = 0;
  bool bad_prefix_ = false;  // the walk in commit() met a length that next() refuses
  std::uint32_t pending_length_ = 0;
};

}  // namespace fastmd::proto
