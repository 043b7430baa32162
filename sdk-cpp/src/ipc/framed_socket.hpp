// framed_socket.hpp — one stream socket carrying PROTOCOL.md §1 frames, with the fds that
// travel beside them. The control connection and every direct channel are one of these.
// Reads belong to one thread (the owner's I/O loop). Writes may come from any thread and
// never block: a frame goes straight to the socket when it can, and what does not fit is
// queued (copied) and flushed by the I/O loop when the socket is writable again. So no two
// peers can deadlock each other by both writing to full sockets.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/frame_reader.hpp"

namespace fastmd::ipc::detail {

/// A decoded frame and the fds its `fds` field announced. The message views the socket's
/// read buffer: it is valid until the next receive().
struct Inbound {
  proto::Message message;
  std::vector<platform::UniqueFd> fds;
};

class FramedSocket {
 public:
  /// Takes the connected socket and makes it non-blocking.
  FramedSocket(platform::UniqueFd socket, proto::DecodeLimits limits);

  int fd() const { return socket_.get(); }

  /// Reads what has arrived without blocking. false: the peer closed its end.
  proto::Result<bool> receive();

  /// The next complete frame, std::nullopt when more bytes are needed, or the error that
  /// ends the connection.
  proto::Result<std::optional<Inbound>> next();

  /// Writes one frame: the prefix encoded from the message, then its inline payload
  /// straight from the caller's memory, with `fds` attached to its first byte (they are
  /// duplicated if the frame has to wait in the queue).
  proto::Status send(const proto::Message& message, std::span<const int> fds = {});

  /// Writes already-encoded frames (a batch) the same way.
  proto::Status send_encoded(proto::ByteView frames);

  /// True while bytes wait in the queue for the socket to become writable.
  bool wants_write() const { return backlogged_.load(std::memory_order_acquire); }

  /// Writes queued bytes until done or the socket is full (the I/O loop, on POLLOUT).
  proto::Status flush();

  /// Called (from the writing thread) when a write leaves bytes queued, so the owner's
  /// I/O loop starts watching for POLLOUT.
  void on_backlog(std::function<void()> notify) { notify_backlog_ = std::move(notify); }

  /// Ends the connection in both directions; later writes fail at once.
  void shut_down();
  bool is_shut_down() const { return shut_down_.load(std::memory_order_acquire); }

 private:
  // Bytes waiting to be written; `fds` go with the chunk's first byte.
  struct Chunk {
    proto::ByteBuffer bytes;
    std::vector<platform::UniqueFd> fds;
    std::size_t written = 0;
  };

  proto::Status write_or_queue(std::span<iovec> parts, std::span<const int> fds);
  proto::Status flush_locked();

  platform::UniqueFd socket_;
  proto::FrameReader reader_;
  proto::Decoder decoder_;
  std::deque<platform::UniqueFd> pending_fds_;

  std::mutex write_mutex_;
  proto::ByteBuffer prefix_;  // guarded by write_mutex_
  std::deque<Chunk> queue_;   // guarded by write_mutex_
  std::atomic<bool> backlogged_{false};
  std::atomic<bool> shut_down_{false};
  std::function<void()> notify_backlog_;
};

}  // namespace fastmd::ipc::detail
