// line_reader.hpp — where NDJSON input is read and split into lines. Input is read in large
// chunks; each complete line is handed out in place, together with a reference that keeps its
// chunk alive, so a request's payload stays valid while its handler runs on another thread
// without being copied. Only new bytes are scanned for '\n'. Chunks come back to a pool when
// the last line viewing them is done, so steady-state reading touches no fresh memory.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::legacy {

/// One buffer of input. Lines view it; a shared_ptr to it keeps it alive.
struct InputChunk {
  std::unique_ptr<char[]> data;
  std::size_t capacity = 0;
};
using ChunkRef = std::shared_ptr<InputChunk>;

/// Recycles chunks: a chunk released by its last line returns here (thread-safe). Must outlive
/// every ChunkRef it handed out.
class ChunkPool {
 public:
  /// A chunk of at least `capacity` bytes, recycled when one is free.
  ChunkRef take(std::size_t capacity);

 private:
  void give_back(InputChunk* chunk);

  std::mutex mutex_;
  std::vector<std::unique_ptr<InputChunk>> free_;
  std::size_t free_bytes_ = 0;
};

enum class ReadOutcome { more, end_of_input };

class LineReader {
 public:
  /// Called for each complete line, without its '\n' (replaced by '\0', as the in-place JSON
  /// parser needs); the line's bytes may be rewritten and stay valid while `chunk` lives.
  using LineFn = std::function<void(std::span<char> line, const ChunkRef& chunk)>;

  LineReader(int fd, std::size_t max_line, ChunkPool& pool);

  /// Reads once (blocking) and hands out every line completed by the new bytes. At end of
  /// input, a last line without '\n' is handed out too. FRAME_TOO_LARGE when a line grows past
  /// max_line; IO_ERROR when read() fails.
  proto::Result<ReadOutcome> read_some(const LineFn& on_line);

  /// True when bytes of an incomplete line are buffered.
  bool has_partial_line() const { return filled_ > line_start_; }

 private:
  void make_room();
  proto::Status check_length(std::size_t line_bytes) const;

  int fd_;
  std::size_t max_line_;
  ChunkPool& pool_;
  ChunkRef chunk_;
  std::size_t line_start_ = 0;  // first byte of the line being read
  std::size_t scanned_ = 0;     // bytes before this hold no '\n' of the current line
  std::size_t filled_ = 0;      // bytes read into the chunk
};

}  // namespace fastmd::ipc::legacy
