// request_batch.hpp — requests written to one channel together (Client::call_many, Node's
// callMany): frames are appended and written whenever policy::kBatchWriteBytes are encoded, so
// the worker starts on the first calls while the rest are encoded and memory stays bounded. A
// request with an attached memfd is written on its own, after the frames before it (its fd
// travels with its first byte). Once a write fails nothing more is written, and every block
// placed for the batch is given back: the channel is broken, its peer reads none of them.
#pragma once

#include <utility>
#include <vector>

#include "payload.hpp"

namespace fastmd::ipc::detail {

class RequestBatch {
 public:
  explicit RequestBatch(FramedSocket& socket) : socket_(socket) {}
  RequestBatch(const RequestBatch&) = delete;
  RequestBatch& operator=(const RequestBatch&) = delete;

  /// Adds a placed request (written now or with later ones); false once the channel failed.
  bool add(const Outgoing& out);

  /// Writes what is left. The first failure, if any: then the batch's blocks were given back.
  proto::Status finish();

 private:
  void write_frames();

  FramedSocket& socket_;
  proto::ByteBuffer frames_;
  std::vector<std::pair<OwnSegment*, proto::ShmHandle>> blocks_;
  proto::Status written_;
};

}  // namespace fastmd::ipc::detail
