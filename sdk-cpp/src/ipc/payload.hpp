// payload.hpp — how a payload crosses a direct channel (PROTOCOL.md §4): inline in the
// frame up to the threshold, else written once into a block of the sender's own segment
// (only a handle travels), else in a one-off sealed memfd attached to the frame. And the
// way back: a received payload resolved to bytes viewed in place, with a Hold that
// releases the block (or unmaps the memfd) when the bytes are no longer needed. The C++
// Client and Worker and the Node addon all place and resolve payloads here.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/ipc/reply.hpp"
#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/shm/oneoff.hpp"
#include "fastmd/shm/segment_reader.hpp"
#include "fastmd/shm/segment_writer.hpp"
#include "framed_socket.hpp"

namespace fastmd::shm {
class SegmentWriter;
}

namespace fastmd::ipc::detail {

/// This session's own segment, where it writes outgoing payloads; shared by the channels
/// that place payloads in it.
class OwnSegment {
 public:
  explicit OwnSegment(std::unique_ptr<shm::SegmentWriter> owned) : writer(std::move(owned)) {}
  std::unique_ptr<shm::SegmentWriter> writer;
};

/// A peer's segment, mapped read-only: its payloads are read in place.
class PeerSegment {
 public:
  explicit PeerSegment(shm::SegmentReader mapped) : reader(std::move(mapped)) {}
  shm::SegmentReader reader;
};

/// This session's own segment, where it writes outgoing payloads. nullptr when the daemon
/// gave none (pool exhausted, or no shared memory). `when_full` takes back the blocks of
/// readers that are gone (LentBlocks::take_back_from_exited, SegmentWriter::set_when_full).
std::shared_ptr<OwnSegment> open_own_segment(platform::UniqueFd fd,
                                             const std::optional<proto::SegmentInfo>& info,
                                             shm::SegmentWriter::WhenFull when_full);

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

/// The way a payload travelled (the paths that docs/sdk-node.md's measurements count).
enum class PayloadPath : std::uint8_t { inline_frame, segment_block, oneoff_memfd };

/// A message with its payload placed, ready to send; keeps an attached memfd open until then.
struct Outgoing {
  proto::Message message;
  platform::UniqueFd attached;
  OwnSegment* placed_in = nullptr;  // the segment holding the payload's block, if any
  PayloadPath path = PayloadPath::inline_frame;

  /// Sends the message; a block whose handle could not be sent is given back.
  proto::Status send_on(FramedSocket& socket) const;
  /// Gives the payload's block back to the own segment (its handle will never be sent).
  void give_back() const;
};

/// A payload to place. Bytes are placed as they are; a payload whose exact size is learnt
/// only as it is written (a JS string, encoded from UTF-16 straight into its destination:
/// measuring it first would cost a second pass) gives bounds, and destinations are sized by
/// room_for(max_size()) and cut to what write_to() returns.
class PayloadSource {
 public:
  virtual ~PayloadSource() = default;
  /// The payload when it is bytes already (inline, they are sent from where they are).
  virtual std::optional<proto::ByteView> bytes() const = 0;
  /// Bounds of the wire size; both exact for bytes.
  virtual std::size_t min_size() const = 0;
  virtual std::size_t max_size() const = 0;
  /// The exact wire size (one pass over a string).
  virtual std::size_t exact_size() const = 0;
  /// Room a destination needs for a payload of wire size `size` (an encoder may write a
  /// terminator after it).
  virtual std::size_t room_for(std::size_t size) const { return size; }
  /// Writes the payload into `out` (at least room_for(its size) bytes); returns its wire size.
  virtual std::size_t write_to(std::span<std::byte> out) const = 0;
};

/// Bytes as a PayloadSource.
class BytesPayload final : public PayloadSource {
 public:
  explicit BytesPayload(proto::ByteView bytes) : bytes_(bytes) {}
  std::optional<proto::ByteView> bytes() const override { return bytes_; }
  std::size_t min_size() const override { return bytes_.size(); }
  std::size_t max_size() const override { return bytes_.size(); }
  std::size_t exact_size() const override { return bytes_.size(); }
  std::size_t write_to(std::span<std::byte> out) const override;

 private:
  proto::ByteView bytes_;
};

/// Places `payload` as the payload of `out.message`: inline (written to `scratch` first when
/// it is not bytes already; `scratch` must outlive the send), in `own` (may be nullptr), or in
/// a one-off memfd.
proto::Status place_payload(const PayloadSource& payload, const PayloadPolicy& policy,
                            OwnSegment* own, proto::ByteBuffer& scratch, Outgoing& out);

/// place_payload() of bytes, which never need scratch space.
proto::Status place_payload(proto::ByteView bytes, const PayloadPolicy& policy, OwnSegment* own,
                            Outgoing& out);

/// Writes a payload whose size is learnt as it is written (a handler's result): small
/// results collect inline; once reserve() or the appended size passes the threshold, the
/// bytes go to a block of the own segment, each byte written once where possible. Inline
/// bytes collect in `inline_scratch`, the caller's: cleared here and kept from result to
/// result, it stops costing allocations once it has grown to the results' size (md4c-html
/// writes a result in many small pieces, and a fresh buffer reallocated ~14 times for each).
/// An inline result placed by finish() views it until the caller's next use.
class PayloadBuilder {
 public:
  PayloadBuilder(const PayloadPolicy& policy, OwnSegment* own, proto::ByteBuffer& inline_scratch);
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
  proto::ByteBuffer& inline_;
  std::unique_ptr<Block> block_;
  std::optional<proto::Error> error_;  // the first failure; finish() reports it
};

/// A received payload, resolved and checked, before its bytes are used: in the frame, a block
/// of the peer's segment (released when this goes), or the attached one-off memfd (unmapped
/// when this goes).
struct Resolved {
  PayloadPath path = PayloadPath::inline_frame;
  proto::ByteView frame_bytes;  // inline_frame: valid until the channel reads again
  std::optional<shm::ReadBlock> block;
  std::optional<shm::AttachedPayload> attached;

  proto::ByteView bytes() const;
};

/// Resolves the payload of a received message: inline bytes, a block of the peer's segment
/// (checked, viewed in place), or the attached one-off memfd (checked, mapped as `view` says).
/// Errors: FD_MISMATCH (a one-off without its memfd), SHM_UNKNOWN_SEGMENT (no peer segment),
/// the SHM_* code of a handle that names no valid block.
proto::Result<Resolved> resolve_payload(const proto::Message& message,
                                        std::vector<platform::UniqueFd>& fds, PeerSegment* peer,
                                        shm::AttachedView view = shm::AttachedView::read_only);

/// Whether a segment block's bytes are still the peer's after they were copied out: a
/// worker that died after answering has its segment slot re-leased by the daemon (a reader's
/// mapping keeps the old bytes, but a copy is checked all the same). PEER_GONE when not.
proto::Status still_intact(const PeerSegment& peer, const proto::ShmHandle& handle);

/// A received payload: bytes valid while `hold` lives (no hold: they view the frame and are
/// valid only until the channel reads again).
struct Incoming {
  proto::ByteView bytes;
  std::unique_ptr<Reply::Hold> hold;
};

/// resolve_payload() with the payload's block or memfd kept by a Reply::Hold.
proto::Result<Incoming> take_payload(const proto::Message& message,
                                     std::vector<platform::UniqueFd>& fds, PeerSegment* peer);

}  // namespace fastmd::ipc::detail
