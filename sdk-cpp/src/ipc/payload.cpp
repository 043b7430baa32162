// Payload placement and resolution (see payload.hpp).
#include "payload.hpp"

#include <cstring>
#include <variant>

#include "fastmd/shm/oneoff.hpp"
#include "fastmd/shm/segment_reader.hpp"
#include "fastmd/shm/segment_writer.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

std::shared_ptr<OwnSegment> open_own_segment(platform::UniqueFd fd,
                                             const std::optional<proto::SegmentInfo>& info,
                                             shm::SegmentWriter::WhenFull when_full) {
  if (!fd || !info) return nullptr;
  auto writer = shm::SegmentWriter::open(std::move(fd), *info);
  // Without a usable segment, payloads go inline or by one-off memfd: slower, still correct.
  if (!writer) return nullptr;
  (*writer)->set_when_full(std::move(when_full));
  return std::make_shared<OwnSegment>(std::move(*writer));
}

proto::Result<std::shared_ptr<PeerSegment>> open_peer_segment(
    platform::UniqueFd fd, const std::optional<proto::SegmentInfo>& info) {
  if (!fd || !info) return std::shared_ptr<PeerSegment>{};
  auto reader = shm::SegmentReader::open(std::move(fd), *info);
  if (!reader) return reader.error();
  return std::make_shared<PeerSegment>(std::move(*reader));
}

namespace {

// A result that outgrows the inline threshold without a reserve() hint gets a block this big
// (or twice what it has), grown by doubling.
constexpr std::size_t kFirstBlockBytes = 256 * 1024;

bool fits_inline(std::size_t size, const PayloadPolicy& policy) {
  return size <= policy.inline_threshold && size + kFrameOverhead <= policy.peer_max_frame;
}

template <class T>
class HoldOf final : public Reply::Hold {
 public:
  explicit HoldOf(T value) : value_(std::move(value)) {}

 private:
  T value_;
};

void attach_oneoff(shm::OneOff oneoff, Outgoing& out) {
  out.message.shm = oneoff.handle;
  out.message.fds = 1;
  out.attached = std::move(oneoff.fd);
  out.path = PayloadPath::oneoff_memfd;
}

}  // namespace

proto::Status Outgoing::send_on(FramedSocket& socket) const {
  proto::Status sent;
  if (attached) {
    const int fd = attached.get();
    sent = socket.send(message, {&fd, 1});
  } else {
    sent = socket.send(message);
  }
  // A block whose handle never left is given back at once.
  if (!sent) give_back();
  return sent;
}

void Outgoing::give_back() const {
  if (placed_in && message.shm) placed_in->writer->discard(*message.shm);
}

std::size_t BytesPayload::write_to(std::span<std::byte> out) const {
  if (!bytes_.empty()) std::memcpy(out.data(), bytes_.data(), bytes_.size());
  return bytes_.size();
}

proto::Status place_payload(const PayloadSource& payload, const PayloadPolicy& policy,
                            OwnSegment* own, proto::ByteBuffer& scratch, Outgoing& out) {
  const std::optional<proto::ByteView> bytes = payload.bytes();
  // Small bytes go inline, written to the socket straight from the caller's memory.
  if (bytes && fits_inline(bytes->size(), policy)) {
    out.message.payload = *bytes;
    out.path = PayloadPath::inline_frame;
    return {};
  }
  // A payload that may be small is written into `scratch`: inline if it fits, else copied on
  // from there (a few KiB at most).
  proto::ByteView encoded;
  if (!bytes && fits_inline(payload.min_size(), policy)) {
    scratch.resize(payload.room_for(payload.max_size()));
    const std::size_t size = payload.write_to(scratch);
    if (fits_inline(size, policy)) {
      out.message.payload = {scratch.data(), size};
      out.path = PayloadPath::inline_frame;
      return {};
    }
    encoded = {scratch.data(), size};
  }
  // Shared memory: the payload is written once, where the peer will read it.
  auto write = [&](std::span<std::byte> to) -> std::size_t {
    if (encoded.empty()) return payload.write_to(to);
    std::memcpy(to.data(), encoded.data(), encoded.size());
    return encoded.size();
  };
  std::size_t room = encoded.empty() ? payload.room_for(payload.max_size()) : encoded.size();
  if (own) {
    if (room > own->writer->max_block() && encoded.empty() && !bytes) {
      room = payload.room_for(payload.exact_size());  // the bound was too loose: measure
    }
    if (room <= own->writer->max_block()) {
      auto block = own->writer->allocate(room, policy.shm_wait);
      if (block) {
        out.message.shm = block->seal(write(block->data()));
        out.placed_in = own;
        out.path = PayloadPath::segment_block;
        return {};
      }
      // The segment stayed full for the whole wait: this payload goes by one-off memfd.
    }
  }
  // Larger than the segment, or no space now: a one-off memfd, which any size can use.
  auto oneoff = shm::make_oneoff(room, write);
  if (!oneoff) return oneoff.error();
  attach_oneoff(std::move(*oneoff), out);
  return {};
}

proto::Status place_payload(proto::ByteView bytes, const PayloadPolicy& policy, OwnSegment* own,
                            Outgoing& out) {
  proto::ByteBuffer unused;  // bytes are never written to scratch
  return place_payload(BytesPayload(bytes), policy, own, unused, out);
}

// Where a result grows once it left the inline buffer: a block of the own segment, or a
// one-off memfd when the segment cannot hold it.
class PayloadBuilder::Block {
 public:
  shm::WriteBlock block;
  std::optional<shm::OneOffBuilder> oneoff;
  std::size_t used = 0;
};

PayloadBuilder::PayloadBuilder(const PayloadPolicy& policy, OwnSegment* own,
                               proto::ByteBuffer& inline_scratch)
    : policy_(policy), own_(own), inline_(inline_scratch) {
  inline_.clear();
}
PayloadBuilder::~PayloadBuilder() = default;

void PayloadBuilder::reserve(std::size_t total) {
  if (error_ || block_) return;
  if (total <= policy_.inline_threshold) {
    inline_.reserve(total);
    return;
  }
  start_block(total);
}

void PayloadBuilder::start_block(std::size_t capacity) {
  block_ = std::make_unique<Block>();
  if (own_ && capacity <= own_->writer->max_block()) {
    auto block = own_->writer->allocate(capacity, policy_.shm_wait);
    if (block) block_->block = std::move(*block);
  }
  if (!block_->block.valid()) {
    auto oneoff = shm::OneOffBuilder::create(capacity);
    if (!oneoff) {
      error_ = oneoff.error();
      return;
    }
    block_->oneoff.emplace(std::move(*oneoff));
  }
  // What was collected inline so far moves over once.
  append_to_block(inline_);
  inline_.clear();
}

void PayloadBuilder::append(proto::ByteView bytes) {
  if (error_) return;
  if (!block_) {
    if (inline_.size() + bytes.size() <= policy_.inline_threshold) {
      inline_.insert(inline_.end(), bytes.begin(), bytes.end());
      return;
    }
    start_block(std::max(kFirstBlockBytes, 2 * (inline_.size() + bytes.size())));
    if (error_) return;
  }
  append_to_block(bytes);
}

void PayloadBuilder::append_to_block(proto::ByteView bytes) {
  if (bytes.empty() || error_) return;
  Block& b = *block_;
  if (b.oneoff) {
    if (auto appended = b.oneoff->append(bytes); !appended) error_ = appended.error();
    return;
  }
  const std::size_t needed = b.used + bytes.size();
  if (needed > b.block.capacity()) {
    const std::size_t wanted = std::max(needed, 2 * b.block.capacity());
    if (!b.block.grow(wanted, b.used, policy_.shm_wait)) {
      // The segment cannot hold it: continue in a one-off memfd (the bytes so far move once).
      auto oneoff = shm::OneOffBuilder::create(wanted);
      if (!oneoff) {
        error_ = oneoff.error();
        return;
      }
      b.oneoff.emplace(std::move(*oneoff));
      if (auto moved = b.oneoff->append({b.block.data().data(), b.used}); !moved) {
        error_ = moved.error();
        return;
      }
      b.block = shm::WriteBlock{};
      if (auto appended = b.oneoff->append(bytes); !appended) error_ = appended.error();
      return;
    }
  }
  std::memcpy(b.block.data().data() + b.used, bytes.data(), bytes.size());
  b.used = needed;
}

proto::Status PayloadBuilder::finish(Outgoing& out) {
  if (error_) return *error_;
  if (!block_) return place_payload(inline_, policy_, nullptr, out);
  if (block_->oneoff) {
    auto oneoff = block_->oneoff->finish();
    if (!oneoff) return oneoff.error();
    attach_oneoff(std::move(*oneoff), out);
    return {};
  }
  out.message.shm = block_->block.seal(block_->used);
  out.placed_in = own_;
  out.path = PayloadPath::segment_block;
  return {};
}

proto::ByteView Resolved::bytes() const {
  if (block) return block->bytes();
  if (attached) return attached->bytes();
  return frame_bytes;
}

proto::Result<Resolved> resolve_payload(const proto::Message& message,
                                        std::vector<platform::UniqueFd>& fds, PeerSegment* peer,
                                        shm::AttachedView view) {
  Resolved out;
  if (!message.shm) {
    out.frame_bytes = message.payload;
    return out;
  }
  const proto::ShmHandle& handle = *message.shm;
  if (handle.attached_memfd()) {
    if (fds.empty()) {
      return Error{Errc::fd_mismatch, "a one-off payload arrived without its memfd"};
    }
    auto attached = shm::map_attached(std::move(fds.front()), handle.length, view);
    if (!attached) return attached.error();
    out.path = PayloadPath::oneoff_memfd;
    out.attached.emplace(std::move(*attached));
    return out;
  }
  if (!peer) {
    return Error{Errc::shm_unknown_segment, "a shared-memory handle names segment " +
                                                std::to_string(handle.segment) +
                                                " but the peer was introduced without one"};
  }
  auto block = peer->reader.acquire(handle);
  if (!block) return block.error();
  out.path = PayloadPath::segment_block;
  out.block.emplace(std::move(*block));
  return out;
}

proto::Status still_intact(const PeerSegment& peer, const proto::ShmHandle& handle) {
  if (auto still = peer.reader.read(handle); !still) {
    return Error{Errc::peer_gone, "the peer's payload was lost with its segment (" +
                                      still.error().to_string() + ")"};
  }
  return {};
}

proto::Result<Incoming> take_payload(const proto::Message& message,
                                     std::vector<platform::UniqueFd>& fds, PeerSegment* peer) {
  // Inline: the frame's bytes, without building a Resolved (most small calls take this path).
  if (!message.shm) return Incoming{message.payload, nullptr};
  auto resolved = resolve_payload(message, fds, peer);
  if (!resolved) return resolved.error();
  const proto::ByteView bytes = resolved->bytes();
  if (resolved->block) {
    return Incoming{bytes, std::make_unique<HoldOf<shm::ReadBlock>>(std::move(*resolved->block))};
  }
  if (resolved->attached) {
    return Incoming{bytes,
                    std::make_unique<HoldOf<shm::AttachedPayload>>(std::move(*resolved->attached))};
  }
  return Incoming{bytes, nullptr};
}

}  // namespace fastmd::ipc::detail
