// framed_socket.hpp — one stream socket carrying PROTOCOL.md §1 frames, with the fds that
// travel beside them. The control connection and every direct channel are one of these.
// Reads are one thread's at a time: the owner's I/O loop, or for a direct channel whoever holds
// its read lock (a thread that borrowed it too, Endpoint::lend). Writes may come from any thread
// and never block: a frame goes straight to the socket when it can, and what does not fit is queued
// (copied) and flushed by the I/O loop when the socket is writable again. So no two peers can
// deadlock each other by both writing to full sockets.
//
// Fds are accounted per frame (PROTOCOL.md §1): the fds of one recvmsg belong to a frame whose
// first byte came with that read (one read can return frame N's last bytes with frame N+1's
// fds). A frame takes the fds it announces from the read its first byte came in; fds that no
// frame starting in their read claims, fds that arrive in the middle of a frame, a frame
// whose announced fds are missing, or more than kMaxHeldFdsPerChannel fds held at once end
// the connection with FD_MISMATCH, and every fd held is closed at that moment.
//
// A direct channel may add rings (channel_ring.hpp, PROTOCOL.md §5.5): once both sides have
// offered theirs, a frame without fds goes into this side's ring when it fits, and next()
// hands on the peer's ring frames after the socket's. The two paths are not ordered with
// respect to each other. ipc.ring and ipc.doorbell frames are this layer's own and are never
// handed on.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "channel_ring.hpp"
#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/frame_reader.hpp"

namespace fastmd::ipc::detail {

/// A decoded frame and the fds its `fds` field announced. The message views the socket's
/// read buffer: it is valid until the next receive().
struct Inbound {
  proto::Message message;
  std::vector<platform::UniqueFd> fds;
};

/// How a FramedSocket reads.
struct ReadOptions {
  /// Bytes asked of each read; the buffer starts at this size and shrinks back to it after a
  /// run of frames that fit it (FrameReader::shrink_to). The daemon's control sessions, many and
  /// mostly idle, read 4 KiB at a time; the data plane 64 KiB.
  std::size_t chunk = 64 * 1024;
  /// Fds one read may bring. 0 (the daemon, whose control messages take none): any fd ends
  /// the connection with FD_MISMATCH at the read that brought it, closed at once.
  std::size_t max_fds_per_read = proto::kMaxFdsPerFrame;
  /// Reads one receive() makes at most, so one busy peer cannot starve the others. The buffer
  /// holds everything they bring until next() hands it on, so a reader with many peers keeps
  /// this small (the daemon: 1, its frames handled before the next read).
  int reads_per_receive = 16;
  /// For an edge-triggered poller (the daemon's Asio reactor), which wakes only for what
  /// arrives later: a read that brought bytes does not end the reading, since an EOF may sit
  /// right behind them; receive() goes on to EAGAIN or EOF, or reports more_to_read().
  bool edge_triggered = false;
};

class FramedSocket;

/// One waiting thread's sleep on a channel's ring (channel_ring.hpp's sleep protocol): while
/// it lives, the peer knows that this side may sleep and rings the doorbell for new frames;
/// its end says that the thread woke and will read. Several threads may sleep on one channel
/// (the rounds, and threads that borrowed it): the peer is told that this side reads again
/// only when the last one woke, and each earlier one's end starts a new episode, so the peer
/// rings again for those still asleep; so does every read that takes bytes from the socket
/// while some sleep (it may have taken their doorbell). Does nothing on a channel that offered
/// no ring.
class RingSleep {
 public:
  RingSleep() = default;
  explicit RingSleep(FramedSocket& socket);
  RingSleep(RingSleep&& other) noexcept
      : socket_(std::exchange(other.socket_, nullptr)), frames_waiting_(other.frames_waiting_) {}
  RingSleep& operator=(RingSleep&& other) noexcept {
    if (this != &other) {
      end();
      socket_ = std::exchange(other.socket_, nullptr);
      frames_waiting_ = other.frames_waiting_;
    }
    return *this;
  }
  ~RingSleep() { end(); }

  /// Frames were in the ring when the sleep began: read them instead of sleeping.
  bool frames_waiting() const { return frames_waiting_; }

 private:
  void end();

  FramedSocket* socket_ = nullptr;  // set while the sleep counts
  bool frames_waiting_ = false;
};

class FramedSocket {
 public:
  /// Takes the connected socket and makes it non-blocking.
  FramedSocket(platform::UniqueFd socket, proto::DecodeLimits limits, ReadOptions read = {});

  int fd() const { return socket_.get(); }

  /// Reads what has arrived without blocking. false: the peer closed its end. Stops at a read
  /// that comes back short between frames (the socket is empty: a level-triggered poller is
  /// woken again by later bytes, or an EOF right behind the last ones), at EAGAIN, or after a
  /// budget of reads so that one busy peer cannot starve the others; then more_to_read() is
  /// true.
  proto::Result<bool> receive();

  /// True when the last receive() stopped with bytes or an EOF perhaps still in the socket
  /// (its budget, or ReadOptions::edge_triggered): call receive() again before waiting.
  bool more_to_read() const { return more_to_read_; }

  /// The next complete frame (the socket's first, then the ring's taken by take_ring()),
  /// std::nullopt when more bytes are needed, or the error that ends the connection.
  proto::Result<std::optional<Inbound>> next();

  /// Makes this side's ring the path of its frames without fds, once the peer's ring file
  /// has arrived. The caller sent `ring_offer()` with ring.file() attached as the channel's
  /// first frame; before any other use of the socket.
  void offer_ring(ChannelRing ring);
  /// ipc.ring: this side's ring offer (send it with ChannelRing::file() attached).
  static const proto::Message& ring_offer();
  /// True once both sides' rings are in use (any thread).
  bool ring_live() const { return ring_live_.load(std::memory_order_acquire); }
  /// Lets next() read the peer's ring up to what it has published now (the reading thread).
  proto::Status take_ring();
  /// The peer published ring frames not read yet (any thread).
  bool ring_readable() const { return ring_live() && ring_->readable(); }

  /// After next() failed on a frame (it did not decode, or its fds did not match): the id of
  /// the request it held, 0 if it held none, so the error answer can name the request.
  std::uint64_t failed_request_id() const { return failed_request_id_; }

  /// Writes one frame: the prefix encoded from the message, then its inline payload
  /// straight from the caller's memory, with `fds` attached to its first byte (they are
  /// duplicated if the frame has to wait in the queue).
  proto::Status send(const proto::Message& message, std::span<const int> fds = {});

  /// Writes one frame on the socket even where a ring is live: the farewell of a channel that
  /// ends (PROTOCOL.md §5.4), whose ring may be the very thing that broke.
  proto::Status send_on_socket(const proto::Message& message);

  /// Writes already-encoded frames (a batch) the same way.
  proto::Status send_encoded(proto::ByteView frames);

  /// True while bytes wait in the queue for the socket to become writable.
  bool wants_write() const { return backlogged_.load(std::memory_order_acquire); }

  /// Bytes waiting in the queue (any thread).
  std::size_t backlog_bytes() const { return backlog_bytes_.load(std::memory_order_acquire); }

  /// When the queue last shrank or was empty (any thread): a peer that does not read shows
  /// as a backlog whose time stands still.
  std::chrono::steady_clock::time_point last_write_progress() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(progress_ticks_.load(std::memory_order_acquire)));
  }

  /// Fds received and not yet handed on with their frame.
  std::size_t held_fds() const { return held_fds_; }

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

  // The fds of one recvmsg and the stream offsets [begin, end) of the bytes that came with
  // them: only a frame starting in that range may claim them.
  struct FdBatch {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    std::vector<platform::UniqueFd> fds;
  };

  proto::Result<bool> receive_from_socket();
  // After a read of the socket: a new sleep episode for the threads still asleep on the ring
  // (the read may have taken the doorbell that was to wake them).
  void renew_ring_sleep();
  proto::Status write_or_queue(std::span<iovec> parts, std::span<const int> fds);
  // Rings the peer's doorbell when its sleep episode asks for it (write lock held).
  proto::Status ring_doorbell_if_due();
  // Handles a frame of this layer (ipc.ring, ipc.doorbell): true when `inbound` was one.
  proto::Result<bool> take_own_frame(Inbound& inbound);
  // The next frame of the peer's ring, decoded from a copy; nullopt when none is taken.
  proto::Result<std::optional<Inbound>> next_ring_frame();
  proto::Status flush_locked();
  void note_progress();
  // Hands the frame [start, end) the `count` fds it announced; an error on any mismatch.
  proto::Status claim_fds(std::uint64_t start, std::uint64_t end, std::uint32_t count,
                          std::vector<platform::UniqueFd>& out);
  // Fds that arrived inside the incomplete frame at next_frame_ can belong to no frame.
  proto::Status check_fds_inside_pending_frame() const;
  // Closes every held fd and returns `error` (the connection ends with it).
  proto::Error fail_fds(proto::Error error);

  platform::UniqueFd socket_;
  ReadOptions read_;
  proto::FrameReader reader_;
  proto::Decoder decoder_;
  bool more_to_read_ = false;
  std::uint64_t failed_request_id_ = 0;
  std::deque<FdBatch> fd_batches_;
  std::size_t held_fds_ = 0;
  std::uint64_t received_ = 0;       // stream offset of the end of what arrived
  std::uint64_t next_frame_ = 0;     // stream offset of the next frame's first byte
  std::optional<ChannelRing> ring_;  // offered before use; the peer's half attached by next()
  std::atomic<bool> ring_live_{false};
  std::vector<std::byte> ring_frame_;  // the last ring frame handed on, copied out of the ring
  friend class RingSleep;
  std::mutex ring_sleep_mutex_;  // guards ring_sleepers_ and the episode's changes
  unsigned ring_sleepers_ = 0;

  std::mutex write_mutex_;
  proto::ByteBuffer prefix_;  // guarded by write_mutex_
  std::deque<Chunk> queue_;   // guarded by write_mutex_
  std::atomic<bool> backlogged_{false};
  std::atomic<std::size_t> backlog_bytes_{0};
  std::atomic<std::int64_t> progress_ticks_{0};
  std::atomic<bool> shut_down_{false};
  std::function<void()> notify_backlog_;
};

}  // namespace fastmd::ipc::detail
