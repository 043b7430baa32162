// payload.hpp — how a payload crosses a direct channel (PROTOCOL.md §4): inline in the
// frame up to the threshold, else written once into a block of the sender's own segment
// (only a handle travels), else in a one-off sealed memfd attached to the frame. And the
// way back: a received payload resolved to bytes viewed in place, with a Hold that
// releases the block (or unmaps the memfd) when the bytes are no longer needed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/ipc/reply.hpp"
#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/control.hpp"
#include "framed_socket.hpp"

namespace fastmd::shm {
class SegmentWriter;
}

namespace fastmd::ipc::detail {

class OwnSegment;
class PeerSegment;

/// This session's own segment, where it writes outgoing payloads. nullptr when the daemon
/// gave none (pool exhausted, or no shared memory).
std::shared_ptr<OwnSegment> open_own_segment(platform::UniqueFd fd,
                                             const std::optional<proto::SegmentInfo>& info);

/// The writer of `own`, for what payload placement does not do itself: recording whom a block
/// is lent to, and taking back the blocks of a reader that is gone (SegmentWriter::lend).
shm::SegmentWriter& segment_writer(OwnSegment& own);

/// A peer's segment as introduced, mapped read-only to read its payloads in place.
/// nullptr when the peer has none. Errors (a bad fd) are the caller's to report.
proto::Result<std::shared_ptr<PeerSegment>> open_peer_segment(
    platform::UniqueFd fd, const std::optional<proto::SegmentInfo>& info);

/// Room the rest of a frame (length prefix, keys, id, method, handle) needs beside an inline
/// payload: a payload goes inline only if it fits the peer's max_frame with this much to spare.
inline constexpr std::size_t kFrameOverhead = 1024;

struct PayloadPolicy {
  std::size_t inline_threshold = proto::kDefaultInlineThreshold;
  std::uint32_t peer_max_frame = proto::kDefaultMaxDataFrame;
  std::chrono::milliseconds shm_wait{policy::kShmWait};
};

/// A message with its payload placed, ready to send; keeps an attached memfd open until then.
struct Outgoing {
  proto::Message message;
  platform::UniqueFd attached;
  OwnSegment* placed_in = nullptr;  // the segment holding the payload's block, if any

  /// Sends the message; a block whose handle could not be sent is given back.

  proto::Status send_on(FramedSocket& socket) const;
};

/// Places `bytes` as the payload of `out.message`: inline, in `own` (may be nullptr), or in a
/// one-off memfd.
proto::Status place_payload(proto::ByteView bytes, const PayloadPolicy& policy, OwnSegment* own,
                            Outgoing& out);

/// Writes a payload whose size is learnt as it is written (a handler's result): small
/// results collect inline; once reserve() or the appended size passes the threshold, the
/// bytes go to a block of the own segment, each byte written once where possible.
class PayloadBuilder {
 public:
  PayloadBuilder(const PayloadPolicy& policy, OwnSegment* own);
  ~PayloadBuilder();
  void reserve(std::size_t total);
  void append(proto::ByteView bytes);
  /// Places what was written as the payload of `out.message`.
  proto::Status finish(Outgoing& out);

 private:
  class Block;
  void start_block(std::size_t capacity);
  void append_to_block(proto::ByteView bytes);

  const PayloadPolicy& policy_;
  OwnSegment* own_;
  proto::ByteBuffer inline_;
  std::unique_ptr<Block> block_;
  std::optional<proto::Error> error_;  // the first failure; finish() reports it
};

/// A received payload: bytes valid while `hold` lives (no hold: they view the frame and are
/// valid only until the channel reads again).
struct Incoming {
  proto::ByteView bytes;
  std::unique_ptr<Reply::Hold> hold;
};

/// Resolves the payload of a received message: inline bytes, a block of the peer's segment
/// (checked, viewed in place), or the attached one-off memfd (checked, mapped read-only).
proto::Result<Incoming> take_payload(const proto::Message& message,
                                     std::vector<platform::UniqueFd>& fds, PeerSegment* peer);

}  // namespace fastmd::ipc::detail
