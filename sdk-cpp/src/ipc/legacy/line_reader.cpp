// line_reader.cpp — chunked reads, in-place line splitting, and the chunk pool.
#include "line_reader.hpp"

#include <algorithm>
#include <cstring>
#include <span>
#include <string>

#include "fastmd/platform/stdio_stream.hpp"

namespace fastmd::ipc::legacy {

namespace {

// One read() fills up to this much; large enough that a burst of small requests is one read.
constexpr std::size_t kChunkBytes = 256 * 1024;
// Free chunks kept for reuse, in bytes; beyond this they are freed.
constexpr std::size_t kMaxPooledBytes = 64 * 1024 * 1024;

}  // namespace

ChunkRef ChunkPool::take(std::size_t capacity) {
  std::unique_ptr<InputChunk> chunk;
  {
    std::lock_guard lock(mutex_);
    auto fits = std::find_if(free_.begin(), free_.end(),
                             [&](const auto& c) { return c->capacity >= capacity; });
    if (fits != free_.end()) {
      chunk = std::move(*fits);
      free_.erase(fits);
      free_bytes_ -= chunk->capacity;
    }
  }
  if (!chunk) {
    chunk = std::make_unique<InputChunk>();
    chunk->data = std::make_unique_for_overwrite<char[]>(capacity);
    chunk->capacity = capacity;
  }
  return ChunkRef(chunk.release(), [this](InputChunk* released) { give_back(released); });
}

void ChunkPool::give_back(InputChunk* chunk) {
  std::unique_ptr<InputChunk> owned(chunk);
  std::lock_guard lock(mutex_);
  if (free_bytes_ + owned->capacity > kMaxPooledBytes) return;  // freed here
  free_bytes_ += owned->capacity;
  free_.push_back(std::move(owned));
}

LineReader::LineReader(int fd, std::size_t max_line, ChunkPool& pool)
    : fd_(fd), max_line_(max_line), pool_(pool), chunk_(pool.take(kChunkBytes)) {}

proto::Status LineReader::check_length(std::size_t line_bytes) const {
  if (line_bytes > max_line_) {
    return proto::Error{proto::Errc::frame_too_large,
                        "a line longer than the maximum of " + std::to_string(max_line_) +
                            " bytes (raise --max-line, or send large payloads over the fast path)"};
  }
  return {};
}

// Moves the incomplete line to the start of a fresh chunk, twice as large when the line fills
// most of the old one. The old chunk lives on while lines still view it.
void LineReader::make_room() {
  const std::size_t partial = filled_ - line_start_;
  const std::size_t capacity = std::max(kChunkBytes, 2 * partial + 1);
  ChunkRef next = pool_.take(capacity);
  std::memcpy(next->data.get(), chunk_->data.get() + line_start_, partial);
  chunk_ = std::move(next);
  scanned_ -= line_start_;
  filled_ = partial;
  line_start_ = 0;
}

proto::Result<ReadOutcome> LineReader::read_some(const LineFn& on_line) {
  // One byte is always kept free for the '\0' that ends a last line without '\n'.
  if (filled_ + 1 >= chunk_->capacity) {
    make_room();
  }
  char* const data = chunk_->data.get();
  auto read = platform::read_stream(
      fd_, std::as_writable_bytes(std::span(data + filled_, chunk_->capacity - 1 - filled_)));
  if (!read) return read.error();
  const std::size_t got = *read;
  if (got == 0) {
    if (has_partial_line()) {
      if (auto checked = check_length(filled_ - line_start_); !checked) return checked.error();
      data[filled_] = '\0';
      on_line({data + line_start_, filled_ - line_start_}, chunk_);
      line_start_ = scanned_ = filled_;
    }
    return ReadOutcome::end_of_input;
  }
  filled_ += got;

  while (scanned_ < filled_) {
    auto* newline = static_cast<char*>(std::memchr(data + scanned_, '\n', filled_ - scanned_));
    if (!newline) {
      scanned_ = filled_;
      break;
    }
    const std::size_t end = static_cast<std::size_t>(newline - data);
    if (auto checked = check_length(end - line_start_); !checked) return checked.error();
    *newline = '\0';
    on_line({data + line_start_, end - line_start_}, chunk_);
    line_start_ = scanned_ = end + 1;
  }
  if (auto checked = check_length(filled_ - line_start_); !checked) return checked.error();
  return ReadOutcome::more;
}

}  // namespace fastmd::ipc::legacy
