// endpoint.hpp — the I/O loop shared by Client and Worker: it keeps the control connection
// to the daemon (reconnecting with backoff after it goes away; a reconnection's handshake is
// taken by the rounds as its reply comes, so a hung daemon holds up no channel), owns every
// direct channel the daemon introduces, reads frames from them and hands each to the owner's
// hooks, and flushes queued writes. One poller (platform/poller.hpp) watches the control
// connection and the channels, for input and, while a channel has a write backlog, for output;
// a channel leaves it while a thread borrows it (lend()). An optional adaptive spin polls
// briefly before sleeping. The loop is a sequence of rounds: the Client
// runs them on a thread of its own or on its caller's event loop (which watches poll_fd()), the
// Worker's handler threads take turns (leader/follower), so the thread that reads a request
// can run it without a hand-off.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adaptive_spin.hpp"
#include "control_connection.hpp"
#include "direct_channel.hpp"
#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/platform/poller.hpp"

namespace fastmd::ipc::detail {

using Clock = std::chrono::steady_clock;

struct EndpointOptions {
  std::string socket_path;
  proto::Hello hello;
  std::chrono::milliseconds hello_timeout{policy::kHandshakeTimeout};
  std::chrono::milliseconds reconnect_min{policy::kReconnectMin};
  std::chrono::milliseconds reconnect_max{policy::kReconnectMax};
  /// Spin before sleeping: up to this long, 0 never; nullopt: learned (adaptive_spin.hpp).
  std::optional<std::chrono::microseconds> spin_budget;
  /// A channel whose write backlog has not shrunk for this long is closed (0: never). The
  /// Worker sets it (kAnswerStallLimit); a Client waits for slow workers instead.
  std::chrono::milliseconds backlog_stall_limit{0};
  /// Bytes of this side's ring on each direct channel whose peer offers rings (PROTOCOL.md
  /// §5.5); 0: socket frames only. The owner offers rings in its hello when this is set.
  std::uint32_t ring_bytes = 0;
};

/// Makes `options` offer rings of `bytes` on every direct channel (0: socket frames only).
inline void offer_rings(EndpointOptions& options, std::uint32_t bytes) {
  options.ring_bytes = bytes;
  if (bytes > 0) options.hello.rings = ring::kLayoutVersion;
}

/// What the owner does with events. Every hook runs on the thread running the current round,
/// except on_message, which also runs on a thread that borrowed the channel (read_lent()).
class EndpointHooks {
 public:
  virtual ~EndpointHooks() = default;
  /// A (new) daemon session began; `segment_fd` is this peer's own segment (may be invalid).
  virtual void on_session(const proto::HelloReply& reply, platform::UniqueFd segment_fd) = 0;
  /// A peer was introduced; the endpoint reads its channel from now on.
  virtual void on_channel(const std::shared_ptr<DirectChannel>& channel) = 0;
  /// A frame arrived on a channel. `inbound` views the channel's buffer until this returns.
  virtual void on_message(const std::shared_ptr<DirectChannel>& channel, Inbound& inbound) = 0;
  /// A channel ended (peer gone, EOF, protocol error, or the endpoint stopping).
  virtual void on_channel_closed(const std::shared_ptr<DirectChannel>& channel,
                                 const proto::Error& why) = 0;
  /// Whether the owner takes more frames from `channel` now. false pauses reading it (the
  /// peer's bytes wait in the socket) until Endpoint::resume_input() or a round that flushed
  /// its backlog finds it true again. Any thread that reads the channel.
  virtual bool accepts_input(const DirectChannel&) { return true; }
  virtual void on_no_worker(const proto::NoWorker&) {}
  /// The daemon said the worker on `channel` is stopping (ipc.peer_draining, PROTOCOL.md
  /// §3.11); the endpoint has set `channel->draining` already.
  virtual void on_peer_draining(const std::shared_ptr<DirectChannel>&) {}
  /// The daemon answered `ipc.want {method}` (Endpoint::want): `error` empty once a worker
  /// serving it was introduced, else NO_WORKER, METHOD_NOT_FOUND, ... as the daemon said.
  /// Wants not answered when the control connection ends are never answered: a new session
  /// (on_session) is the owner's cue to ask again.
  virtual void on_want_answered(const std::string& /*method*/,
                                const std::optional<proto::Error>& /*error*/) {}
  /// The control connection ended; channels stay up, reconnection is under way.
  virtual void on_daemon_lost(const proto::Error&) {}
  /// The earliest time on_timer() wants to run (Clock::time_point::max() for never).
  virtual Clock::time_point next_timer() { return Clock::time_point::max(); }
  virtual void on_timer(Clock::time_point) {}
};

class Endpoint {
 public:
  /// Waits on `poll_set` when given (an outer event loop's own watch of each fd, e.g. the Node
  /// addon's), else on a platform::Poller of its own.
  Endpoint(EndpointOptions options, EndpointHooks& hooks,
           std::unique_ptr<platform::PollSet> poll_set = nullptr);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  /// Connects (handshake included) and takes the announcements that came with the hello
  /// reply. Fails when the first connection fails; later losses are retried by the rounds.
  /// A worker a daemon started says its hello on the control socket it inherited
  /// (inherited_control.hpp) instead, and never reconnects.
  proto::Status connect();

  /// false for a worker on an inherited control connection: once it ends, it stays ended.
  bool reconnects() const { return !inherited_control_; }

  /// The current daemon connection's number (DirectChannel::epoch() of the channels it
  /// introduced); set before on_session() runs. The thread running the round.
  std::uint64_t epoch() const { return epoch_; }

  /// Runs rounds on a thread of the endpoint's own until stop().
  void start_thread();

  /// One round of the loop on the calling thread: waits for events (at most until the next
  /// timer or reconnection, and `until`; not at all unless `may_block`), reads every ready
  /// channel and the control connection, hands what arrived to the hooks, flushes write
  /// backlogs. One thread at a time (the owner passes the turn with a happens-before, e.g. a
  /// mutex). false once stop was requested. A round that may not block ends with the rings
  /// asleep, for the owner's loop, unless `spin_next`: the owner spins at once
  /// (spin_for_input), so peers may write without ringing.
  bool run_round(bool may_block, Clock::time_point until = Clock::time_point::max(),
                 bool spin_next = false);

  /// For an owner whose event loop is about to sleep (it runs the rounds, without blocking):
  /// waits for frames in the rings' memory instead, as long as the spin allows and at most
  /// until `until`, asking `interrupted()` every few polls whether the loop has other work.
  /// true when frames came (run a round now); false: the rings sleep again, so peers ring
  /// for the loop. The thread running the rounds.
  bool spin_for_input(Clock::time_point until, const std::function<bool()>& interrupted);
  /// For the same owner, not spinning again after all: the rings sleep (if a round left them
  /// awake for a spin). true when frames came meanwhile (run a round now).
  bool rest_rings();

  /// For an owner that runs the rounds from its own event loop: readable whenever a round has
  /// something to do (PollSet::fd(): every fd the rounds watch, and wake()). -1 when the poller
  /// could not be opened (connect() says why), or when the owner's loop keeps the set.
  int poll_fd() const { return poller_ ? (*poller_)->fd() : -1; }

  /// When a round must run even if poll_fd() stays quiet: the owner's next timer, a
  /// reconnection, a handshake's bound, a stalled backlog's limit (max(): never). The thread
  /// running the rounds.
  Clock::time_point next_wakeup();

  /// Lends `channel` to a thread that waits for its answer on the channel itself (a Client's
  /// synchronous call): the rounds leave its ring to the borrower until the last borrower
  /// gives it back. Costs no syscall, so a borrower that finds its answer while it spins made
  /// none. Any thread; loans nest.
  void lend(const std::shared_ptr<DirectChannel>& channel);
  /// A borrower is about to sleep on the channel's socket itself: the rounds stop watching it,
  /// so they do not wake for what arrives on it too, until it is given back.
  void unwatch_lent(const std::shared_ptr<DirectChannel>& channel);
  /// Ends a loan; the rounds watch the channel again (unless it was closed meanwhile), and, if
  /// they sleep, sleep on its ring too.
  void give_back(const std::shared_ptr<DirectChannel>& channel);

  /// Reads what arrived on a borrowed channel (its socket too when `socket_ready`; its ring
  /// always) and hands its frames to the hooks on the calling thread, as a round would. false
  /// when the channel ended (give it back: a round closes and reports it).
  bool read_lent(const std::shared_ptr<DirectChannel>& channel, bool socket_ready = true);

  /// Asks the rounds to read a paused channel again (any thread): its frames are taken in
  /// the next round if the owner accepts input by then.
  void resume_input(const std::shared_ptr<DirectChannel>& channel);

  /// Ends `channel` for `why` (any thread): the next round tells the peer (an answer with id 0)
  /// and closes it, reporting `why` through on_channel_closed (the first reason given wins).
  void fail_channel(const std::shared_ptr<DirectChannel>& channel, proto::Error why);

  /// Sends a notification to the daemon on the control connection (the thread running the
  /// round, e.g. from on_timer). false when it was not sent: no connection now, or an earlier
  /// write still waits (ControlConnection::notify).
  bool notify_daemon(std::string_view method, proto::ByteView params) {
    return control_ && control_->notify(method, params);
  }

  /// Asks the daemon for a worker serving `method` (`ipc.want`), in the next round once the
  /// control connection is up; the answer comes through on_want_answered (any thread).
  void want(std::string_view method);

  /// Makes the round in progress return and every later one return false (any thread).
  void request_stop();

  /// Stops: joins the endpoint's thread if it has one, then closes every channel (reported
  /// through the hooks) and the control connection. Call it when no round runs any more.
  /// Idempotent.
  void stop();

  /// Makes the I/O loop look at its timers and write backlogs again (any thread;
  /// async-signal-safe).
  void wake();

  /// Called from any thread when a channel's writes were queued.
  std::function<void()> backlog_notifier() {
    return [this] { wake(); };
  }

 private:
  proto::Result<std::unique_ptr<ControlConnection>> open_control();
  // Reconnects: connects and sends ipc.hello; the rounds take the reply (advance_handshake).
  void connect_now();
  // Takes the hello reply if `readable` brought it, or gives up at the handshake bound.
  void advance_handshake(bool readable);
  void abandon_handshake();
  void schedule_reconnect();
  void handle_control();
  // Starts a daemon session on `control_` (first connection or reconnection).
  void begin_session();
  // Sends the wants queued by want() on the control connection.
  void send_wants();
  void close_control(const proto::Error& why);
  void add_channel(const std::shared_ptr<DirectChannel>& channel);
  // Offers the peer this side's ring, when both speak the same ring layout (its first frame).
  void offer_ring(DirectChannel& channel);
  void handle_ready(const DirectChannel* channel);
  // Flushes the channel's backlog and reads it (its socket only when `socket_ready`).
  void handle_channel(std::size_t index, bool socket_ready = true);
  // Reads and hands on what arrived, under the channel's read lock. false: the peer closed it.
  proto::Result<bool> read_frames(const std::shared_ptr<DirectChannel>& channel, bool socket_ready);
  // The sleep protocol of the rounds' channels' rings: before the round sleeps, and after.
  // true when ring frames arrived meanwhile (do not sleep).
  bool sleep_rings();
  void wake_rings();
  // Whether the rounds read `channel`'s ring (not lent, paused or closed).
  bool reads_ring(DirectChannel& channel);
  static bool reads_ring_locked(const DirectChannel& channel) {
    return channel.watch.watched && channel.watch.loans == 0;
  }

  // Hands on the complete frames buffered; false when the owner paused the channel first.
  proto::Result<bool> deliver_frames(const std::shared_ptr<DirectChannel>& channel);
  // Adds a channel to / removes it from the watched set; under watch_mutex_.
  void watch_locked(DirectChannel& channel, bool watched);
  void close_channel(std::size_t index, const proto::Error& why);
  void drop_peer(const proto::PeerGone& gone);
  void mark_draining(const proto::PeerDraining& draining);
  // Pauses or resumes reading `channel` as the owner accepts input; under its read lock.
  bool input_open(DirectChannel& channel);
  // Handles the channels that resume_input() / fail_channel() named, and closes channels
  // whose backlog stalled.
  void handle_scheduled();
  static int timeout_ms(Clock::time_point until, Clock::time_point now);
  // Watches each channel with a write backlog for output, and no other.
  void watch_backlogs();
  // Sets what `channel` is watched for; under watch_mutex_.
  void change_watch_locked(DirectChannel& channel, bool input, bool output);
  // Whether a frame waits in the ring of a channel the rounds read.
  bool any_ring_readable();
  // Whether the rounds read any channel (not every one lent or paused).
  bool reads_any_channel();
  // Waits (spinning first when configured) and fills ready_; the number of events, or -1.
  int wait_for_events(int timeout_ms);
  int wait_once(int timeout_ms);
  // Watches the control connection's (or a reconnection's) fd for input, or stops.
  void watch_control(int fd, const void* which, bool watched);

  EndpointOptions options_;
  EndpointHooks& hooks_;
  // Tags: &control_, &connecting_ or a DirectChannel.
  proto::Result<std::unique_ptr<platform::PollSet>> poller_;
  std::mutex watch_mutex_;  // guards each channel's watch and loans, and:
  std::vector<std::shared_ptr<DirectChannel>> scheduled_;  // channels to look at next round
  std::vector<std::string> wants_to_send_;                 // want()'s methods, not sent yet
  std::unordered_map<std::uint64_t, std::string> wants_in_flight_;   // by request id; the
                                                                     // thread running the round
  std::uint64_t next_request_id_ = ControlConnection::kHelloId + 1;  // the same
  std::unique_ptr<ControlConnection> control_;
  std::unique_ptr<ControlConnection> connecting_;  // a reconnection waiting for its hello reply
  Clock::time_point handshake_deadline_;           // connecting_'s bound
  std::vector<std::shared_ptr<DirectChannel>> channels_;  // the thread running the round
  bool rounds_asleep_ = false;  // between sleep_rings() and wake_rings(); under watch_mutex_
  static constexpr int kReadyPerRound = 64;  // more wait for the next round (level-triggered)
  std::array<platform::PollSet::Ready, kReadyPerRound> ready_;  // the same
  std::uint64_t epoch_ = 0;
  Clock::time_point reconnect_at_ = Clock::time_point::max();
  std::chrono::milliseconds reconnect_delay_;
  AdaptiveSpin spin_;
  // A wait spin_for_input() gave up on: learned when the owner's loop wakes the next round.
  std::optional<Clock::time_point> unfinished_wait_;
  std::atomic<bool> stopping_{false};
  bool inherited_control_ = false;
  std::thread thread_;
};

}  // namespace fastmd::ipc::detail
