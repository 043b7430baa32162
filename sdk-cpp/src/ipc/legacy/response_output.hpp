// response_output.hpp — where the legacy path's responses are written. Each response is
// encoded straight into one shared batch; a flush writes the batch with one write(), and
// responses added while a thread is writing are written by that thread in its next round
// ("group commit"), so a burst of answers costs a few system calls, not one each.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "fastmd/proto/message.hpp"
#include "fastmd/proto/ndjson.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::legacy {

class ResponseOutput {
 public:
  explicit ResponseOutput(int fd);

  /// Adds the line of `response` to the batch; with `flush`, writes the batch now (or leaves
  /// it to the thread writing already). A full batch is written whatever `flush` says.
  /// Waits while a large batch is still being written (backpressure from a slow reader).
  void send(const proto::Message& response, bool flush);

  /// Writes everything batched so far.
  void flush();

  /// OK, or the first write error (after which responses are dropped).
  proto::Status status() const;

 private:
  void write_batches(std::unique_lock<std::mutex>& lock);
  proto::Status write_all(const proto::ndjson::LineBuffer& bytes) const;

  int fd_;
  mutable std::mutex mutex_;
  std::condition_variable written_;
  proto::ndjson::Encoder encoder_;
  std::unique_ptr<proto::ndjson::LineBuffer> batch_;    // filled under mutex_
  std::unique_ptr<proto::ndjson::LineBuffer> writing_;  // owned by the writing thread
  bool writer_active_ = false;
  std::optional<proto::Error> error_;
};

}  // namespace fastmd::ipc::legacy
