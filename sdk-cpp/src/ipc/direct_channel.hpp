// direct_channel.hpp — one introduced peer: the socketpair end the daemon passed us, what
// the peer announced about itself, and the daemon session ("epoch") it was introduced in,
// so announcements of a restarted daemon never touch channels of the previous one.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "control_connection.hpp"
#include "framed_socket.hpp"
#include "in_flight_ids.hpp"
#include "payload.hpp"

namespace fastmd::ipc::detail {

class DirectChannel {
 public:
  DirectChannel(Introduction introduction, std::uint64_t epoch)
      : socket_(std::move(introduction.channel), proto::DecodeLimits::data()),
        peer_(std::move(introduction.peer)),
        peer_segment_fd_(std::move(introduction.segment)),
        epoch_(epoch) {}
  // The rounds' sleep on the ring ends before the socket it names goes (members go in the
  // reverse order of their declaration, the socket first).
  ~DirectChannel() { watch.round_sleep = RingSleep(); }

  FramedSocket& socket() { return socket_; }
  const FramedSocket& socket() const { return socket_; }
  const proto::Introduce& peer() const { return peer_; }
  std::uint64_t epoch() const { return epoch_; }

  /// The memfd of the peer's segment as introduced (taken once, by whoever maps it).
  platform::UniqueFd take_peer_segment_fd() { return std::move(peer_segment_fd_); }

  bool serves(std::string_view method) const {
    for (const auto& spec : peer_.methods) {
      if (spec.name == method) return true;
    }
    return false;
  }

  /// This side's segment as the peer knows it (from the session the channel was introduced
  /// in) and the peer's segment mapped: both set by the owner before the channel is used.
  std::shared_ptr<OwnSegment> own_segment;
  std::shared_ptr<PeerSegment> peer_segment;

  /// The client's: this channel is of an earlier daemon connection, and the current one
  /// introduced its worker again (connection_generation.hpp). Guarded by the client's mutex.
  bool superseded = false;
  /// The peer is stopping (ipc.peer_draining, or it answered WORKER_STOPPING): a client sends
  /// it no new calls and closes the channel once its calls on it are answered.
  std::atomic<bool> draining{false};

  /// Requests sent on this channel and not yet answered (the client's load measure).
  std::atomic<std::uint32_t> outstanding{0};

  /// Requests read from this channel and not yet answered (the worker's back-pressure).
  std::atomic<std::uint32_t> unanswered{0};
  /// ... and those of them that came with an fd (a mapped one-off payload).
  std::atomic<std::uint32_t> unanswered_with_fds{0};
  /// ... and the bytes of their inline params the worker holds.
  std::atomic<std::size_t> unanswered_bytes{0};
  /// ... and their ids, to refuse a second request with an id still in flight (the worker's,
  /// guarded by its mutex; at most kMaxUnansweredPerChannel entries). An id is added when the
  /// round's requests are queued (at most kArrivalsPerHandOff of them after it was read): a
  /// repeat read while its first was in flight is not caught if the first is answered before
  /// the repeat is queued. That costs only its sender (two answers for one id).
  InFlightIds request_ids;

  /// Held while frames are read from the socket and handed on: a round and a thread that
  /// borrowed the channel (Endpoint::lend) may both read it.
  std::mutex read_mutex;

  /// The endpoint's watch of the channel, guarded by its watch mutex: whether the rounds watch
  /// it for input, and for output (it has a write backlog), how many threads borrowed it (and
  /// whether one of them sleeps on its socket), whether it was closed, the rounds' sleep on
  /// its ring.
  /// Also whether its input is paused (the owner takes no more for now, see
  /// EndpointHooks::accepts_input) and why it must be closed, if someone asked for that.
  struct Watch {
    bool watched = false;
    bool backlog_watched = false;
    unsigned loans = 0;
    bool unwatched_for_loan = false;  // a borrower sleeps on its socket: out of the poller
    bool closed = false;
    RingSleep round_sleep;  // the rounds' sleep on its ring, while they sleep and may read it
    std::atomic<bool> paused{false};  // also read without the lock (the per-frame check)
    std::optional<proto::Error> close_reason;
  } watch;

 private:
  FramedSocket socket_;
  proto::Introduce peer_;
  platform::UniqueFd peer_segment_fd_;
  std::uint64_t epoch_;
};

}  // namespace fastmd::ipc::detail
