// Framed socket I/O (see framed_socket.hpp).
#include "framed_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

namespace {

// Reads per receive() call, so one busy peer cannot starve the others in the I/O loop.
constexpr int kReadsPerReceive = 16;
constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

FramedSocket::FramedSocket(platform::UniqueFd socket, proto::DecodeLimits limits)
    : socket_(std::move(socket)), reader_(limits.max_frame), decoder_(limits) {
  (void)platform::set_nonblocking(socket_.get(), true);
}

proto::Result<bool> FramedSocket::receive() {
  for (int i = 0; i < kReadsPerReceive; ++i) {
    auto got = platform::recv_with_fds(socket_.get(), reader_.writable(kReadChunk));
    if (!got) return got.error();
    for (auto& fd : got->fds) pending_fds_.push_back(std::move(fd));
    if (got->eof) return false;
    if (got->would_block) return true;
    reader_.commit(got->bytes);
  }
  return true;
}

proto::Result<std::optional<Inbound>> FramedSocket::next() {
  auto body = reader_.next();
  if (!body) return body.error();
  if (!*body) return std::optional<Inbound>{};
  auto message = decoder_.decode(**body);
  if (!message) return message.error();
  Inbound inbound{*message, {}};
  // The fds of a frame arrive with its first byte, so they are queued by the time the
  // whole frame is in; frames take them in order.
  if (message->fds > pending_fds_.size()) {
    return Error{Errc::fd_mismatch, "a frame announces " + std::to_string(message->fds) +
                                        " fds but " + std::to_string(pending_fds_.size()) +
                                        " arrived"};
  }
  for (std::uint32_t i = 0; i < message->fds; ++i) {
    inbound.fds.push_back(std::move(pending_fds_.front()));
    pending_fds_.pop_front();
  }
  return std::optional<Inbound>{std::move(inbound)};
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
  return write_or_queue({parts, message.payload.empty() ? 1u : 2u}, fds);
}

proto::Status FramedSocket::send_encoded(proto::ByteView frames) {
  std::lock_guard lock(write_mutex_);
  iovec part{const_cast<std::byte*>(frames.data()), frames.size()};
  return write_or_queue({&part, 1}, {});
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
    if (sent->bytes > 0) chunk.fds.clear();
    if (chunk.written == chunk.bytes.size()) queue_.pop_front();
  }
  backlogged_.store(false, std::memory_order_release);
  return {};
}

void FramedSocket::shut_down() {
  if (!shut_down_.exchange(true, std::memory_order_acq_rel)) {
    ::shutdown(socket_.get(), SHUT_RDWR);
  }
}

}  // namespace fastmd::ipc::detail
