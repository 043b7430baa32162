// session.hpp — one connected peer on the control socket. A Session reads and writes its
// frames through the FramedSocket every peer uses (transport/framed_socket.hpp: each length
// checked, decoded under the control limits, any fd refused at the read that brings it, a
// write that does not fit queued), enforces the handshake state machine and its timeout,
// keeps a worker's load reports (ipc.load), and bounds what waits for the peer to read
// (charged to its uid). What a hello or a status request means is the SessionHost's business
// (the broker); a session only knows its own peer. Every way a session ends goes through
// close(), which reports it exactly once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/proto/control.hpp"
#include "fd_readiness.hpp"
#include "framed_socket.hpp"
#include "memory/pools.hpp"
#include "quotas.hpp"
#include "worker_load.hpp"

namespace fastmd::daemon {

class Session;

/// Why a session ended; each kind has its own counter in the status.
enum class EndKind : std::uint8_t {
  normal,   // EOF, process exit, or daemon shutdown
  refused,  // admission or handshake refused with an error response
  hostile,  // broke the protocol (garbage, oversize, wrong state, stray fds, no handshake)
  slow,     // did not read: its output queue hit a limit
};

/// What a session needs from the daemon around it.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  /// A well-formed ipc.hello arrived; the host answers it (reply or error) through the session.
  virtual void hello(Session& session, std::uint64_t request_id, proto::Hello hello) = 0;
  /// An ipc.status request arrived after the handshake.
  virtual void status(Session& session, std::uint64_t request_id) = 0;
  /// A client's well-formed ipc.want request arrived after the handshake; the host answers it.
  virtual void want(Session& session, std::uint64_t request_id, proto::Want want) = 0;
  /// A worker said it is stopping (ipc.draining, PROTOCOL.md §3.11).
  virtual void draining(Session& session) = 0;
  /// The session ended; called once, after its socket is closed.
  virtual void closed(Session& session, EndKind kind, const std::string& reason) = 0;
};

struct SessionLimits {
  std::chrono::milliseconds handshake_timeout{2000};
  std::uint64_t max_queued_bytes = 1024 * 1024;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  enum class State : std::uint8_t { awaiting_hello, established, closed };

  Session(asio::io_context& io, platform::UniqueFd socket, platform::PeerCredentials peer,
          std::uint64_t id, SessionHost& host, SessionLimits limits, SessionCharge charge,
          QueuedBytesCharge queued);

  /// Starts reading and the handshake timer.
  void start();

  /// Writes one frame with `fds` attached, queueing what the socket does not take (the queue
  /// keeps its own copies of the fds). When the queue exceeds its limit the session is ended
  /// as slow (after this call returns).
  void send(const proto::Message& message, std::vector<platform::UniqueFd> fds = {});

  /// Answers `request_id` with an error, logs it, and ends the session. `kind` says whether it
  /// was a refusal or a protocol violation.
  void fail(EndKind kind, std::uint64_t request_id, const proto::Error& error);

  /// Sends ipc.shutdown and ends the session once its queue has drained.
  void drain(const std::string& reason);

  /// Ends the session now.
  void close(EndKind kind, const std::string& reason);

  /// Marks the handshake done: the peer's hello is recorded and liveness watched by its exit
  /// watcher (a pidfd), where the platform has one.
  void establish(proto::Hello hello);

  std::uint64_t id() const { return id_; }
  State state() const { return state_; }
  const platform::PeerCredentials& peer() const { return peer_; }
  /// The connected socket (for credential queries; reads and writes belong to the session),
  /// -1 once the session is closed.
  int socket() const { return socket_ ? socket_->fd() : -1; }
  /// The peer's hello (meaningful once established).
  const proto::Hello& hello() const { return hello_; }
  /// Bytes written by the daemon that wait for the peer to read them.
  std::uint64_t queued_bytes() const { return queued_.bytes(); }
  void set_limits(SessionLimits limits) { limits_ = limits; }

  /// The peer's own shared-memory segment, held until the session ends (then reclaimed).
  void set_segment(SegmentLease lease) { segment_ = std::move(lease); }
  const std::optional<SegmentLease>& segment() const { return segment_; }

  /// A worker's last ipc.load report and its times (idle, nothing served, until it reports).
  const WorkerLoad& load() const { return load_; }
  /// A worker that is stopping (it said so, or its pool stops it) is introduced to nobody
  /// any more; its clients were told (ipc.peer_draining).
  bool withdrawn() const { return withdrawn_; }
  void withdraw() { withdrawn_ = true; }

  /// A worker the daemon spawned itself (a pool's, on the socket it inherited), not a peer
  /// that connected: the per-user daemon's idle exit does not wait for those.
  bool spawned() const { return spawned_; }
  void mark_spawned() { spawned_ = true; }

  /// The peers this session has been introduced to (by session id).
  std::set<std::uint64_t>& introduced() { return introduced_; }
  const std::set<std::uint64_t>& introduced() const { return introduced_; }

  /// "session 7 (worker 'md', pid 1234)" for log lines.
  std::string describe() const;

 private:
  void wait_readable();
  void read_ready();
  void handle_message(const proto::Message& message);
  void handle_load(const proto::Message& message);
  void watch_process();
  void flush();
  /// After a write or a flush: charges the queue's bytes to the uid, watches for writability
  /// while bytes wait, and ends a session whose queue is over a limit or that has drained.
  void after_write();
  void wait_writable();
  void end_later(EndKind kind, std::string reason);

  asio::io_context& io_;
  std::optional<ipc::detail::FramedSocket> socket_;  // reset (closed) by close()
  FdReadiness readiness_;                   // socket_'s fd; declared after it, so it lets go first
  asio::posix::stream_descriptor process_;  // exit watcher: readable when the peer exits
  asio::steady_timer handshake_timer_;
  platform::PeerCredentials peer_;
  std::uint64_t id_;
  SessionHost& host_;
  SessionLimits limits_;
  State state_ = State::awaiting_hello;
  bool withdrawn_ = false;
  bool spawned_ = false;
  proto::Hello hello_;

  proto::Decoder decoder_;  // message bodies (socket_ decodes the frames)

  SessionCharge charge_;      // this session's place in its uid's session quota
  QueuedBytesCharge queued_;  // socket_'s queued bytes, charged to the uid
  bool write_waiting_ = false;
  bool draining_ = false;
  bool ending_ = false;  // an end was scheduled by end_later()

  std::set<std::uint64_t> introduced_;
  WorkerLoad load_;
  std::optional<SegmentLease> segment_;
};

}  // namespace fastmd::daemon
