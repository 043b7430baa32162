// fastmd/proto/frame_reader.hpp — splits a byte stream into frames. The caller reads from
// its socket into writable(), commits what arrived, then takes complete frames with next().
// A length prefix is judged the moment its 4 bytes are in, before the body is buffered, and
// the buffer grows only as bytes arrive (doubling), never to the size a prefix announces: a
// peer that sends a large prefix and nothing else costs the receiver nothing.
#pragma once

#include <cstring>
#include <optional>

#include "fastmd/proto/codec.hpp"

namespace fastmd::proto {

class FrameReader {
 public:
  explicit FrameReader(std::uint32_t max_frame, std::size_t initial_capacity = 64 * 1024)
      : max_frame_(max_frame), buffer_(initial_capacity) {}

  /// Space to read at least `min_free` bytes into. Moves unread bytes to the front, so any
  /// frame returned by next() before this call is invalidated.
  std::span<std::byte> writable(std::size_t min_free = 16 * 1024) {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    // Doubling keeps the copies amortised; the buffer stays within twice what arrived.
    const std::size_t want = end_ + min_free;
    if (buffer_.size() < want) buffer_.resize(std::max(want, buffer_.size() * 2));
    return {buffer_.data() + end_, buffer_.size() - end_};
  }

  /// Marks `n` bytes of the last writable() span as received.
  void commit(std::size_t n) { end_ += n; }

  /// The next complete frame body, std::nullopt if more bytes are needed, or the error that
  /// ends the connection (FRAME_EMPTY, FRAME_TOO_LARGE). A body stays valid until writable().
  Result<std::optional<ByteView>> next() {
    const std::size_t available = end_ - begin_;
    if (available < kFrameHeaderBytes) return std::optional<ByteView>{};
    const std::uint32_t length = load_u32_le(buffer_.data() + begin_);
    auto checked = check_frame_length(length, max_frame_);
    if (!checked) return checked.error();
    if (available - kFrameHeaderBytes < length) {
      pending_length_ = length;
      return std::optional<ByteView>{};
    }
    pending_length_ = 0;
    ByteView body{buffer_.data() + begin_ + kFrameHeaderBytes, length};
    begin_ += kFrameHeaderBytes + length;
    return std::optional<ByteView>{body};
  }

  /// The length prefix of the frame being received, once next() found it incomplete (0
  /// before its 4 bytes are in).
  std::uint32_t pending_length() const { return pending_length_; }

  /// Bytes received but not yet returned as frames.
  std::size_t buffered() const { return end_ - begin_; }

  /// Releases the memory of a large frame once the connection is idle again.
  void shrink_to(std::size_t capacity) {
    if (begin_ == end_ && buffer_.size() > capacity) {
      begin_ = end_ = 0;
      buffer_.resize(capacity);
      buffer_.shrink_to_fit();
    }
  }

 private:
  std::uint32_t max_frame_;
  ByteBuffer buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint32_t pending_length_ = 0;
};

}  // namespace fastmd::proto
