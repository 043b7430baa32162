// log_pipe.hpp — the read end of a worker's stdout or stderr pipe, put into the daemon's log
// line by line with the pool's name, the worker's pid and the stream. A line longer than
// kMaxLogLine is logged in pieces of that size (marked as continued), so a worker that never
// writes a newline costs a bounded buffer, never unbounded memory.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "fastmd/platform/fd.hpp"

namespace fastmd::daemon {

inline constexpr std::size_t kMaxLogLine = 4096;

class LogPipe {
 public:
  /// Reads `read_end` until EOF; each line is logged as "<prefix> <stream>: <line>".
  LogPipe(asio::io_context& io, platform::UniqueFd read_end, std::string prefix,
          std::string stream);
  ~LogPipe();
  LogPipe(const LogPipe&) = delete;
  LogPipe& operator=(const LogPipe&) = delete;

  /// Whether the writer side closed (every line has been logged).
  bool finished() const { return finished_; }

 private:
  void read_more();
  void take(std::size_t bytes);
  void emit(std::string_view line, bool continued);

  asio::posix::stream_descriptor pipe_;
  std::string prefix_;
  std::string stream_;
  std::array<char, 4096> chunk_{};
  std::string line_;  // the unfinished line, at most kMaxLogLine bytes
  bool finished_ = false;
};

}  // namespace fastmd::daemon
