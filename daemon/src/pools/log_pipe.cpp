// A worker's output pipe into the daemon's log (see log_pipe.hpp).
#include "pools/log_pipe.hpp"

#include <spdlog/spdlog.h>

namespace fastmd::daemon {

LogPipe::LogPipe(asio::io_context& io, platform::UniqueFd read_end, std::string prefix,
                 std::string stream)
    : pipe_(io, read_end.release()), prefix_(std::move(prefix)), stream_(std::move(stream)) {
  read_more();
}

LogPipe::~LogPipe() {
  // The worker has exited when its pipe goes: log what it wrote last and is still unread
  // (bounded, in case a child of the worker keeps the pipe open and writing).
  if (!finished_ && pipe_.is_open()) {
    asio::error_code error;
    pipe_.non_blocking(true, error);
    for (int round = 0; !error && round < 16; ++round) {
      const std::size_t bytes = pipe_.read_some(asio::buffer(chunk_), error);
      if (bytes > 0) take(bytes);
    }
  }
  if (!line_.empty()) emit(line_, false);
  asio::error_code ignored;
  pipe_.close(ignored);
}

void LogPipe::read_more() {
  // The handler may run after this object is gone (with operation_aborted): it only touches
  // `this` when the read completed.
  pipe_.async_read_some(asio::buffer(chunk_), [this](asio::error_code error, std::size_t bytes) {
    if (error == asio::error::operation_aborted) return;
    if (bytes > 0) take(bytes);
    if (error) {
      if (!line_.empty()) emit(line_, false);
      line_.clear();
      finished_ = true;
      return;
    }
    read_more();
  });
}

void LogPipe::take(std::size_t bytes) {
  std::string_view data(chunk_.data(), bytes);
  while (!data.empty()) {
    const std::size_t newline = data.find('\n');
    const std::size_t room = kMaxLogLine - line_.size();
    const std::size_t piece = std::min({newline, room, data.size()});
    line_.append(data.substr(0, piece));
    data.remove_prefix(piece);
    if (!data.empty() && data.front() == '\n') {
      emit(line_, false);
      line_.clear();
      data.remove_prefix(1);
    } else if (line_.size() == kMaxLogLine) {
      emit(line_, true);
      line_.clear();
    }
  }
}

void LogPipe::emit(std::string_view line, bool continued) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  spdlog::info("{} {}: {}{}", prefix_, stream_, line, continued ? " [line continues]" : "");
}

}  // namespace fastmd::daemon
