// RequestBatch (see request_batch.hpp).
#include "request_batch.hpp"

#include "fastmd/ipc/call_policy.hpp"

namespace fastmd::ipc::detail {

bool RequestBatch::add(const Outgoing& out) {
  if (!written_) {
    out.give_back();
    return false;
  }
  if (out.placed_in && out.message.shm) blocks_.emplace_back(out.placed_in, *out.message.shm);
  if (out.attached) {
    write_frames();
    if (written_) written_ = out.send_on(socket_);
  } else {
    proto::append_frame(out.message, frames_);
    if (frames_.size() >= policy::kBatchWriteBytes) write_frames();
  }
  return static_cast<bool>(written_);
}

proto::Status RequestBatch::finish() {
  write_frames();
  if (!written_) {
    for (const auto& [segment, block] : blocks_) segment->writer->discard(block);
  }
  blocks_.clear();
  return written_;
}

void RequestBatch::write_frames() {
  if (written_ && !frames_.empty()) written_ = socket_.send_encoded(frames_);
  frames_.clear();
}

}  // namespace fastmd::ipc::detail
