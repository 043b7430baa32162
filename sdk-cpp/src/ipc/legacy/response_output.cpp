// response_output.cpp — batched, group-committed writes of NDJSON responses.
#include "response_output.hpp"

#include <span>
#include <stdexcept>
#include <string>

#include "fastmd/platform/stdio_stream.hpp"

namespace fastmd::ipc::legacy {

namespace {

// A batch this large is written without waiting for a flush.
constexpr std::size_t kFlushBytes = 256 * 1024;
// Senders wait while the batch exceeds this and a writer is busy (the reader is slow).
constexpr std::size_t kMaxBatchBytes = 16 * 1024 * 1024;

}  // namespace

ResponseOutput::ResponseOutput(int fd)
    : fd_(fd),
      batch_(std::make_unique<proto::ndjson::LineBuffer>()),
      writing_(std::make_unique<proto::ndjson::LineBuffer>()) {}

void ResponseOutput::send(const proto::Message& response, bool flush) {
  std::unique_lock lock(mutex_);
  written_.wait(lock, [&] { return !writer_active_ || batch_->GetSize() < kMaxBatchBytes; });
  if (error_) return;
  const std::size_t line_start = batch_->GetSize();
  try {
    encoder_.append_line(response, *batch_);
  } catch (const std::length_error& e) {
    // A result over JSON's 4 GiB string limit: drop the partial line, answer with an error.
    batch_->Pop(batch_->GetSize() - line_start);
    encoder_.append_line(
        proto::Message::failure(
            response.id, proto::Errc::payload_too_large,
            std::string(e.what()) + "; send results this large over the fast path"),
        *batch_);
  }
  if (flush || batch_->GetSize() >= kFlushBytes) write_batches(lock);
}

void ResponseOutput::flush() {
  std::unique_lock lock(mutex_);
  write_batches(lock);
}

proto::Status ResponseOutput::status() const {
  std::lock_guard lock(mutex_);
  if (error_) return *error_;
  return {};
}

// Writes batches until none is left; a thread arriving while another writes leaves its lines
// to that one.
void ResponseOutput::write_batches(std::unique_lock<std::mutex>& lock) {
  if (writer_active_) return;
  writer_active_ = true;
  while (batch_->GetSize() > 0 && !error_) {
    std::swap(batch_, writing_);
    lock.unlock();
    proto::Status wrote = write_all(*writing_);
    writing_->Clear();
    lock.lock();
    if (!wrote) error_ = wrote.error();
    written_.notify_all();
  }
  if (error_) batch_->Clear();
  writer_active_ = false;
  written_.notify_all();
}

proto::Status ResponseOutput::write_all(const proto::ndjson::LineBuffer& bytes) const {
  return platform::write_stream(fd_, std::as_bytes(std::span(bytes.GetString(), bytes.GetSize())));
}

}  // namespace fastmd::ipc::legacy
