// Framed socket I/O (see framed_socket.hpp).
#include "framed_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include "channel_limits.hpp"
#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

namespace {

constexpr std::string_view kRingOffer = "ipc.ring";
constexpr std::string_view kRingDoorbell = "ipc.doorbell";

// The id of a request in a frame body that failed to decode; 0 when the body holds none.
std::uint64_t request_id_hint(proto::Decoder& decoder, proto::ByteView body) {
  auto object = decoder.unpack(body);
  if (!object) return 0;
  std::uint64_t id = 0;
  (void)proto::for_each_field(*object, "a message",
                              [&](std::string_view key, const msgpack::object& value) {
                                if (key == "id") {
                                  if (auto v = proto::read_uint<std::uint64_t>(value, key)) id = *v;
                                }
                                return proto::Status{};
                              });
  return id;
}

}  // namespace

FramedSocket::FramedSocket(platform::UniqueFd socket, proto::DecodeLimits limits, ReadOptions read)
    : socket_(std::move(socket)),
      read_(read),
      reader_(limits.max_frame, read.chunk),
      decoder_(limits) {
  (void)platform::set_nonblocking(socket_.get(), true);
  note_progress();
}

proto::Result<bool> FramedSocket::receive() {
  const std::uint64_t before = received_;
  auto open = receive_from_socket();
  if (!open) return open;
  // A doorbell these reads took may have been rung for other threads, asleep on the ring and
  // polling the socket, which is quiet again: a new episode makes the peer ring for them
  // again, for what it publishes after the take below. (A read that took nothing took no
  // doorbell: renewing then would only cost the peer a doorbell.)
  if (received_ != before) renew_ring_sleep();
  // The ring is taken after the socket's reads: what a doorbell or an EOF read now follows was
  // published before it, and is read with it.
  if (auto taken = take_ring(); !taken) return taken.error();
  return open;
}

void FramedSocket::renew_ring_sleep() {
  if (!ring_) return;
  std::lock_guard lock(ring_sleep_mutex_);
  if (ring_sleepers_ > 0) ring_->sleep();
}

proto::Result<bool> FramedSocket::receive_from_socket() {
  reader_.shrink_to(read_.chunk);
  more_to_read_ = false;
  for (int i = 0; i < read_.reads_per_receive; ++i) {
    const std::span<std::byte> space = reader_.writable(read_.chunk);
    auto got = platform::recv_with_fds(socket_.get(), space, read_.max_fds_per_read);
    if (!got) return fail_fds(got.error());
    if (got->eof) return false;
    if (got->would_block) return true;
    reader_.commit(got->bytes);
    const std::uint64_t begin = received_;
    received_ += got->bytes;
    // A read that did not fill the space emptied the socket: reading again would most likely
    // return EAGAIN, one wasted syscall per wake-up (a fifth of a small call's). A
    // level-triggered poller is woken again by what arrives later; an edge-triggered one is
    // not, for an EOF already behind these bytes, so it reads on (ReadOptions::edge_triggered).
    // A frame still arriving is read on too: its sender is writing the rest right now, and a
    // wake-up per piece cost a large inline frame a poll per 36 KiB.
    const bool drained =
        !read_.edge_triggered && got->bytes < space.size() && !reader_.ends_mid_frame();
    if (got->fds.empty()) {
      if (drained) return true;
      continue;
    }
    held_fds_ += got->fds.size();
    if (held_fds_ > kMaxHeldFdsPerChannel) {
      return fail_fds(Error{Errc::fd_mismatch, std::to_string(held_fds_) +
                                                   " fds arrived without frames to claim "
                                                   "them; a channel holds at most " +
                                                   std::to_string(kMaxHeldFdsPerChannel)});
    }
    fd_batches_.push_back({begin, received_, std::move(got->fds)});
    // The frames these fds belong to are handed on (next()) before more is read.
    more_to_read_ = !drained;
    return true;
  }
  more_to_read_ = true;
  return true;
}

proto::Result<std::optional<Inbound>> FramedSocket::next() {
  for (;;) {
    failed_request_id_ = 0;
    auto body = reader_.next();
    if (!body) return fail_fds(body.error());
    if (!*body) {
      if (auto inside = check_fds_inside_pending_frame(); !inside) {
        return fail_fds(inside.error());
      }
      return next_ring_frame();
    }
    const std::uint64_t start = next_frame_;
    next_frame_ += proto::kFrameHeaderBytes + (*body)->size();
    auto message = decoder_.decode(**body);
    if (!message) {
      failed_request_id_ = request_id_hint(decoder_, **body);
      return fail_fds(message.error());
    }
    Inbound inbound{*message, {}};
    if (auto claimed = claim_fds(start, next_frame_, message->fds, inbound.fds); !claimed) {
      failed_request_id_ = message->is_request() ? message->id : 0;
      return fail_fds(claimed.error());
    }
    auto own = take_own_frame(inbound);
    if (!own) return fail_fds(own.error());
    if (!*own) return std::optional<Inbound>{std::move(inbound)};
  }
}

proto::Result<std::optional<Inbound>> FramedSocket::next_ring_frame() {
  for (;;) {
    if (!ring_live()) return std::optional<Inbound>{};
    auto frame = ring_->next_frame(ring_frame_);
    if (!frame) return frame.error();
    if (frame->empty()) return std::optional<Inbound>{};
    const proto::ByteView body = frame->subspan(proto::kFrameHeaderBytes);
    auto message = decoder_.decode(body);
    if (!message) {
      failed_request_id_ = request_id_hint(decoder_, body);
      return message.error();
    }
    if (message->fds != 0) {
      failed_request_id_ = message->is_request() ? message->id : 0;
      return Error{Errc::fd_mismatch, "a frame in the ring announces " +
                                          std::to_string(message->fds) +
                                          " fds, which only the socket can carry"};
    }
    Inbound inbound{*message, {}};
    auto own = take_own_frame(inbound);
    if (!own) return own.error();
    if (!*own) return std::optional<Inbound>{std::move(inbound)};
  }
}

proto::Result<bool> FramedSocket::take_own_frame(Inbound& inbound) {
  const proto::Message& message = inbound.message;
  if (!ring_ || !message.is_notification()) return false;
  if (message.method == kRingDoorbell) return true;  // it woke us: its work is done
  if (message.method != kRingOffer) return false;
  if (ring_live()) return Error{Errc::unexpected_message, "the peer sent a second ipc.ring"};
  if (inbound.fds.size() != 1) {
    return Error{Errc::fd_mismatch, "ipc.ring came without its ring file"};
  }
  if (auto attached = ring_->attach_peer(std::move(inbound.fds[0]), decoder_.limits().max_frame);
      !attached) {
    return attached.error();
  }
  if (auto taken = ring_->take_published(); !taken) return taken.error();
  ring_live_.store(true, std::memory_order_release);
  return true;
}

void FramedSocket::offer_ring(ChannelRing ring) {
  ring_.emplace(std::move(ring));
}

const proto::Message& FramedSocket::ring_offer() {
  static const proto::Message offer = [] {
    proto::Message message = proto::Message::notification(kRingOffer);
    message.fds = 1;
    return message;
  }();
  return offer;
}

RingSleep::RingSleep(FramedSocket& socket) {
  // From the offer on, not only once the rings are live: the peer may start writing into its
  // ring before this side has read its offer, and must then ring for a thread asleep here.
  if (!socket.ring_) return;
  std::lock_guard lock(socket.ring_sleep_mutex_);
  ++socket.ring_sleepers_;
  socket_ = &socket;
  socket.ring_->sleep();
  frames_waiting_ = socket.ring_readable();
}

void RingSleep::end() {
  if (!socket_) return;
  std::lock_guard lock(socket_->ring_sleep_mutex_);
  if (--socket_->ring_sleepers_ == 0) {
    socket_->ring_->wake();
  } else {
    socket_->ring_->sleep();  // a new episode for those still asleep: this one was rung
  }
  socket_ = nullptr;
}

proto::Status FramedSocket::take_ring() {
  if (!ring_live()) return {};
  return ring_->take_published();
}

proto::Status FramedSocket::claim_fds(std::uint64_t start, std::uint64_t end, std::uint32_t count,
                                      std::vector<platform::UniqueFd>& out) {
  // Reads that ended before this frame began: every frame that started in them is decoded.
  while (!fd_batches_.empty() && fd_batches_.front().end <= start) {
    if (!fd_batches_.front().fds.empty()) {
      return Error{Errc::fd_mismatch, std::to_string(fd_batches_.front().fds.size()) +
                                          " fds arrived that no frame announced"};
    }
    fd_batches_.pop_front();
  }
  FdBatch* own = nullptr;
  if (!fd_batches_.empty() && fd_batches_.front().begin <= start) own = &fd_batches_.front();
  const std::size_t arrived = own ? own->fds.size() : 0;
  if (count > arrived) {
    return Error{Errc::fd_mismatch, "a frame announces " + std::to_string(count) + " fds but " +
                                        std::to_string(arrived) + " arrived with its first byte"};
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    out.push_back(std::move(own->fds[i]));
  }
  if (own) {
    own->fds.erase(own->fds.begin(), own->fds.begin() + count);
    held_fds_ -= count;
    // No later frame starts in this read: what is left was sent with no frame announcing it.
    if (own->end <= end) {
      if (!own->fds.empty()) {
        return Error{Errc::fd_mismatch, "a frame announces " + std::to_string(count) + " fds but " +
                                            std::to_string(arrived) + " arrived with it"};
      }
      fd_batches_.pop_front();
    }
  }
  return {};
}

proto::Status FramedSocket::check_fds_inside_pending_frame() const {
  if (fd_batches_.empty()) return {};
  const FdBatch& last = fd_batches_.back();
  if (last.begin <= next_frame_) return {};  // the incomplete frame may claim them
  // Before its 4-byte prefix is complete the frame's end is unknown, but no frame starts
  // inside the prefix.
  const std::uint32_t length = reader_.pending_length();
  const std::uint64_t frame_end = next_frame_ + proto::kFrameHeaderBytes + length;
  const bool inside =
      length == 0 ? last.end <= next_frame_ + proto::kFrameHeaderBytes : last.end <= frame_end;
  if (!inside) return {};
  return Error{Errc::fd_mismatch,
               std::to_string(last.fds.size()) + " fds arrived in the middle of a frame"};
}

proto::Error FramedSocket::fail_fds(proto::Error error) {
  fd_batches_.clear();
  held_fds_ = 0;
  return error;
}

proto::Status FramedSocket::send(const proto::Message& message, std::span<const int> fds) {
  std::lock_guard lock(write_mutex_);
  prefix_.clear();
  try {
    proto::append_frame_prefix(message, prefix_);
  } catch (const std::length_error& e) {
    return Error{Errc::payload_too_large, e.what()};
  }
  iovec parts[2] = {{prefix_.data(), prefix_.size()},
                    {const_cast<std::byte*>(message.payload.data()), message.payload.size()}};
  const std::span<iovec> frame(parts, message.payload.empty() ? 1u : 2u);
  if (fds.empty() && ring_live() && !is_shut_down()) {
    auto put = ring_->write(frame, prefix_.size() + message.payload.size());
    if (!put) return put.error();
    if (*put) return ring_doorbell_if_due();
  }
  return write_or_queue(frame, fds);
}

proto::Status FramedSocket::send_on_socket(const proto::Message& message) {
  std::lock_guard lock(write_mutex_);
  proto::ByteBuffer frame;
  try {
    proto::append_frame(message, frame);
  } catch (const std::length_error& e) {
    return Error{Errc::payload_too_large, e.what()};
  }
  iovec part{frame.data(), frame.size()};
  return write_or_queue({&part, 1}, {});
}

proto::Status FramedSocket::send_encoded(proto::ByteView frames) {
  std::lock_guard lock(write_mutex_);
  if (ring_live() && !is_shut_down()) {
    auto taken = ring_->write_encoded(frames);
    if (!taken) return taken.error();
    if (*taken > 0) {
      if (auto rung = ring_doorbell_if_due(); !rung) return rung;
      frames = frames.subspan(*taken);
    }
    if (frames.empty()) return {};
  }
  iovec part{const_cast<std::byte*>(frames.data()), frames.size()};
  return write_or_queue({&part, 1}, {});
}

proto::Status FramedSocket::ring_doorbell_if_due() {
  if (!ring_->doorbell_due()) return {};
  // The frame is in the ring already: a doorbell that cannot be written ends the channel
  // (its reader sees EOF and reads the ring first), not the send, which would be retried.
  static const proto::ByteBuffer doorbell = [] {
    proto::ByteBuffer frame;
    proto::append_frame(proto::Message::notification(kRingDoorbell), frame);
    return frame;
  }();
  iovec part{const_cast<std::byte*>(doorbell.data()), doorbell.size()};
  if (!write_or_queue({&part, 1}, {})) shut_down();
  return {};
}

proto::Status FramedSocket::write_or_queue(std::span<iovec> parts, std::span<const int> fds) {
  if (is_shut_down()) return Error{Errc::peer_gone, "the connection was closed"};
  if (queue_.empty()) {
    auto sent = platform::send_with_fds(socket_.get(), parts, fds);
    if (!sent) return sent.error();
    std::size_t done = sent->bytes;
    if (done > 0) fds = {};  // they went with the first byte
    while (!parts.empty() && done >= parts.front().iov_len) {
      done -= parts.front().iov_len;
      parts = parts.subspan(1);
    }
    if (parts.empty()) return {};
    parts.front().iov_base = static_cast<std::byte*>(parts.front().iov_base) + done;
    parts.front().iov_len -= done;
  }
  Chunk chunk;
  for (const iovec& part : parts) {
    const auto* bytes = static_cast<const std::byte*>(part.iov_base);
    chunk.bytes.insert(chunk.bytes.end(), bytes, bytes + part.iov_len);
  }
  for (int fd : fds) {
    platform::UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!copy) return platform::system_error("fcntl(F_DUPFD_CLOEXEC)", errno);
    chunk.fds.push_back(std::move(copy));
  }
  if (queue_.empty()) note_progress();  // the backlog's age counts from here
  backlog_bytes_.fetch_add(chunk.bytes.size(), std::memory_order_acq_rel);
  queue_.push_back(std::move(chunk));
  if (!backlogged_.exchange(true, std::memory_order_acq_rel) && notify_backlog_) {
    notify_backlog_();
  }
  return {};
}

proto::Status FramedSocket::flush() {
  std::lock_guard lock(write_mutex_);
  return flush_locked();
}

proto::Status FramedSocket::flush_locked() {
  while (!queue_.empty()) {
    Chunk& chunk = queue_.front();
    iovec part{chunk.bytes.data() + chunk.written, chunk.bytes.size() - chunk.written};
    std::vector<int> fds;
    if (chunk.written == 0) {
      for (const auto& fd : chunk.fds) fds.push_back(fd.get());
    }
    auto sent = platform::send_with_fds(socket_.get(), {&part, 1}, fds);
    if (!sent) return sent.error();
    if (sent->would_block) return {};
    chunk.written += sent->bytes;
    backlog_bytes_.fetch_sub(sent->bytes, std::memory_order_acq_rel);
    if (sent->bytes > 0) {
      chunk.fds.clear();
      note_progress();
    }
    if (chunk.written == chunk.bytes.size()) queue_.pop_front();
  }
  backlogged_.store(false, std::memory_order_release);
  return {};
}

void FramedSocket::note_progress() {
  progress_ticks_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                        std::memory_order_release);
}

void FramedSocket::shut_down() {
  if (!shut_down_.exchange(true, std::memory_order_acq_rel)) {
    ::shutdown(socket_.get(), SHUT_RDWR);
  }
}

}  // namespace fastmd::ipc::detail
