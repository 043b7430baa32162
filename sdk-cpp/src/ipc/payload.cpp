// Payload placement and resolution (see payload.hpp).
#include "payload.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

class OwnSegment {};
class PeerSegment {};

class PayloadBuilder::Block {};

std::shared_ptr<OwnSegment> open_own_segment(platform::UniqueFd,
                                             const std::optional<proto::SegmentInfo>&) {
  return nullptr;
}

proto::Result<std::shared_ptr<PeerSegment>> open_peer_segment(
    platform::UniqueFd, const std::optional<proto::SegmentInfo>&) {
  return std::shared_ptr<PeerSegment>{};
}

proto::Status Outgoing::send_on(FramedSocket& socket) const {
  if (!attached) return socket.send(message);
  const int fd = attached.get();
  return socket.send(message, {&fd, 1});
}

namespace {

// Room the rest of a frame (keys, id, method, handle) needs beside an inline payload.
constexpr std::size_t kFrameOverhead = 1024;

bool fits_inline(std::size_t size, const PayloadPolicy& policy) {
  return size + kFrameOverhead <= policy.peer_max_frame;
}

}  // namespace

proto::Status place_payload(proto::ByteView bytes, const PayloadPolicy& policy, OwnSegment*,
                            Outgoing& out) {
  if (!fits_inline(bytes.size(), policy)) {
    return Error{Errc::payload_too_large,
                 "a payload of " + std::to_string(bytes.size()) +
                     " bytes exceeds the peer's frame maximum and no shared memory is available"};
  }
  out.message.payload = bytes;
  return {};
}

PayloadBuilder::PayloadBuilder(const PayloadPolicy& policy, OwnSegment* own)
    : policy_(policy), own_(own) {}
PayloadBuilder::~PayloadBuilder() = default;

void PayloadBuilder::reserve(std::size_t total) {
  inline_.reserve(total);
}

void PayloadBuilder::append(proto::ByteView bytes) {
  inline_.insert(inline_.end(), bytes.begin(), bytes.end());
}

proto::Status PayloadBuilder::finish(Outgoing& out) {
  return place_payload(inline_, policy_, own_, out);
}

proto::Result<Incoming> take_payload(const proto::Message& message,
                                     std::vector<platform::UniqueFd>&, PeerSegment*) {
  if (message.shm) {
    return Error{Errc::shm_unknown_segment,
                 "a shared-memory handle arrived but no segment of the peer is mapped"};
  }
  return Incoming{message.payload, nullptr};
}

}  // namespace fastmd::ipc::detail
