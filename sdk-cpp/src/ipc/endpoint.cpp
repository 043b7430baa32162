// The I/O loop shared by Client and Worker (see endpoint.hpp).
#include "endpoint.hpp"

#include <poll.h>

#include <algorithm>

#include "inherited_control.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

namespace {

proto::Result<std::unique_ptr<platform::PollSet>> open_poll_set(
    std::unique_ptr<platform::PollSet> given) {
  if (given) return given;
  auto poller = platform::Poller::open();
  if (!poller) return poller.error();
  return std::unique_ptr<platform::PollSet>(std::make_unique<platform::Poller>(std::move(*poller)));
}

}  // namespace

Endpoint::Endpoint(EndpointOptions options, EndpointHooks& hooks,
                   std::unique_ptr<platform::PollSet> poll_set)
    : options_(std::move(options)),
      hooks_(hooks),
      poller_(open_poll_set(std::move(poll_set))),
      reconnect_delay_(options_.reconnect_min),
      spin_(options_.spin_budget) {}

Endpoint::~Endpoint() {
  stop();
}

proto::Status Endpoint::connect() {
  if (!poller_) {
    return Error{Errc::io_error, "cannot watch channels: " + poller_.error().message};
  }
  if (options_.ring_bytes != 0) {
    if (auto size = ChannelRing::check_capacity(options_.ring_bytes); !size) return size;
  }
  stopping_.store(false, std::memory_order_release);  // a stopped endpoint may start again
  auto control = open_control();
  if (!control) return control.error();
  control_ = std::move(*control);
  begin_session();
  return {};
}

void Endpoint::start_thread() {
  thread_ = std::thread([this] {
    while (run_round(/*may_block=*/true)) {
    }
  });
}

void Endpoint::request_stop() {
  stopping_.store(true, std::memory_order_release);
  wake();
}

void Endpoint::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
  const Error stopped{Errc::cancelled, "the endpoint was stopped"};
  while (!channels_.empty()) close_channel(channels_.size() - 1, stopped);
  if (control_) watch_control(control_->fd(), &control_, false);
  control_.reset();
  abandon_handshake();
}

void Endpoint::wake() {
  if (poller_) (*poller_)->wake();
}

bool Endpoint::run_round(bool may_block, Clock::time_point until, bool spin_next) {
  if (stopping_.load(std::memory_order_acquire)) return false;
  const Clock::time_point now = Clock::now();
  if (!control_ && !connecting_ && now >= reconnect_at_) connect_now();
  const int ready =
      wait_for_events(may_block ? timeout_ms(std::min(next_wakeup(), until), now) : 0);
  bool control_ready = false;
  bool handshake_ready = false;
  for (int i = 0; i < ready; ++i) {
    const platform::PollSet::Ready& event = ready_[static_cast<std::size_t>(i)];
    if (event.tag == &control_) {
      control_ready = true;
    } else if (event.tag == &connecting_) {
      handshake_ready = true;
    } else if (event.tag != nullptr && event.input) {
      handle_ready(static_cast<const DirectChannel*>(event.tag));
    }
    // A wake-up (null tag), or output alone (a write backlog can take more): what the round
    // does below for every channel covers them.
  }
  // Backlogs are flushed whether or not POLLOUT came (a write may have queued since), and
  // rings are read whether or not a doorbell came (a peer rings only a sleeper).
  for (std::size_t i = channels_.size(); i-- > 0;) {
    FramedSocket& socket = channels_[i]->socket();
    if (socket.wants_write()) {
      handle_channel(i);
    } else if (socket.ring_readable() && reads_ring(*channels_[i])) {
      handle_channel(i, /*socket_ready=*/false);
    }
  }
  if (control_ready) handle_control();
  if (connecting_) advance_handshake(handshake_ready);
  send_wants();
  handle_scheduled();
  hooks_.on_timer(Clock::now());
  watch_backlogs();
  // The owner's loop sleeps next (the caller's event loop): the peers must ring for it.
  if (!may_block && !spin_next && sleep_rings()) wake();
  return !stopping_.load(std::memory_order_acquire);
}

bool Endpoint::reads_ring(DirectChannel& channel) {
  std::lock_guard lock(watch_mutex_);
  return reads_ring_locked(channel);
}

bool Endpoint::sleep_rings() {
  std::lock_guard lock(watch_mutex_);
  rounds_asleep_ = true;
  bool waiting = false;
  for (const auto& channel : channels_) {
    // A paused channel is not read, so its peer need not ring; a lent one is its borrower's.
    if (!reads_ring_locked(*channel)) continue;
    // A new sleep (the one of a round that ended is over): a new episode, looked at again.
    channel->watch.round_sleep = RingSleep(channel->socket());
    if (channel->watch.round_sleep.frames_waiting()) waiting = true;
  }
  return waiting;
}

void Endpoint::wake_rings() {
  std::lock_guard lock(watch_mutex_);
  if (!rounds_asleep_) return;
  rounds_asleep_ = false;
  for (const auto& channel : channels_) channel->watch.round_sleep = RingSleep();
}

void Endpoint::watch_backlogs() {
  std::unique_lock<std::mutex> lock(watch_mutex_, std::defer_lock);
  for (const auto& channel : channels_) {
    const bool backlog = channel->socket().wants_write();
    // Read without the lock: only the thread running the round changes it.
    if (backlog == channel->watch.backlog_watched) continue;
    if (!lock.owns_lock()) lock.lock();
    change_watch_locked(*channel, channel->watch.watched, backlog);
  }
}

void Endpoint::change_watch_locked(DirectChannel& channel, bool input, bool output) {
  (*poller_)->change(channel.socket().fd(), &channel,
                     {.input = channel.watch.watched, .output = channel.watch.backlog_watched},
                     {.input = input, .output = output});
  channel.watch.watched = input;
  // Written only when it changes, which only the thread running the round does (it reads it
  // without the lock in watch_backlogs).
  if (channel.watch.backlog_watched != output) channel.watch.backlog_watched = output;
}

Clock::time_point Endpoint::next_wakeup() {
  Clock::time_point until = std::min(hooks_.next_timer(), reconnect_at_);
  if (connecting_) until = std::min(until, handshake_deadline_);
  if (options_.backlog_stall_limit.count() > 0) {
    for (const auto& channel : channels_) {
      const FramedSocket& socket = channel->socket();
      if (socket.wants_write()) {
        until = std::min(until, socket.last_write_progress() + options_.backlog_stall_limit);
      }
    }
  }
  return until;
}

int Endpoint::timeout_ms(Clock::time_point until, Clock::time_point now) {
  if (until == Clock::time_point::max()) return -1;
  if (until <= now) return 0;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(until - now);
  return static_cast<int>(std::min<std::int64_t>(wait.count(), 60'000));
}

namespace {

// A ring is a read of shared memory; the fds cost a syscall, so a spin looks at them only
// every few µs, however many channels each turn reads (a frame on the socket, with fds or too
// large for the ring, waits a little longer). Measured, Node and worker spinning on
// sequential 64 B calls: a look every 16th turn (about 1 µs) made 2.1 polls of the Node
// process and 4.4 of the worker per call; every 128th, 1.0 and 2.1, and the Node p50 went
// from 9.7 to 8.1-8.7 µs.
class FdLooks {
 public:
  explicit FdLooks(Clock::time_point first) : next_(first) {}
  // Whether the spin looks at the fds now (the first time at `first`).
  bool due() {
    const Clock::time_point now = Clock::now();
    if (now < next_) return false;
    next_ = now + kEvery;
    return true;
  }

 private:
  static constexpr std::chrono::microseconds kEvery{4};
  Clock::time_point next_;
};

}  // namespace

bool Endpoint::any_ring_readable() {
  for (const auto& channel : channels_) {
    if (channel->socket().ring_readable() && reads_ring(*channel)) return true;
  }
  return false;
}

bool Endpoint::spin_for_input(Clock::time_point until, const std::function<bool()>& interrupted) {
  if (Clock::now() >= until || !reads_any_channel()) return rest_rings();
  const std::chrono::microseconds budget = spin_.budget_now();
  if (budget.count() == 0) return rest_rings();
  // Awake while this spins, so that peers write without ringing.
  wake_rings();
  const int own_fd = poll_fd();  // -1 when the owner's loop keeps the set
  bool fd_ready = false;
  const Clock::time_point began = Clock::now();
  FdLooks looks(began + std::chrono::microseconds(4));
  const bool found = spin_.spin(
      began, budget, [&] { return fd_ready || any_ring_readable(); },
      [&] {
        if (!looks.due()) return false;
        // A frame on a socket (with fds, too large for the ring) makes poll_fd() readable.
        if (own_fd >= 0) {
          pollfd io{own_fd, POLLIN, 0};
          fd_ready = ::poll(&io, 1, 0) > 0;
          if (fd_ready) return false;  // ready() says so next
        }
        return Clock::now() >= until || interrupted();
      });
  if (found) {
    unfinished_wait_.reset();
    return true;
  }
  if (!unfinished_wait_) unfinished_wait_ = began;  // learned when the loop wakes a round
  // Back to the owner's loop, which sleeps: the peers ring for it from now on.
  return sleep_rings();
}

bool Endpoint::rest_rings() {
  {
    std::lock_guard lock(watch_mutex_);
    if (rounds_asleep_) return false;  // since the last round: nothing new to look at
  }
  return sleep_rings();
}

bool Endpoint::reads_any_channel() {
  std::lock_guard lock(watch_mutex_);
  return std::any_of(channels_.begin(), channels_.end(),
                     [](const auto& channel) { return reads_ring_locked(*channel); });
}

int Endpoint::wait_for_events(int timeout_ms) {
  if (timeout_ms == 0) {
    const int ready = wait_once(0);
    wake_rings();  // the owner's loop slept since the last round (run_round)
    if (unfinished_wait_) {
      spin_.slept(*unfinished_wait_);
      unfinished_wait_.reset();
    }
    return ready;
  }
  // A blocking round of a caller-driven owner (a blocking call) is a wait of its own.
  unfinished_wait_.reset();
  const Clock::time_point began = Clock::now();
  // A round that reads no channel (each one lent to a synchronous call, or none yet) has
  // nothing to spin for: its spin would only take a core from the threads that do.
  if (reads_any_channel()) {
    // Awake while this spins (a non-blocking round may have left the rings asleep).
    wake_rings();
    FdLooks looks(began);
    int ready = 0;
    const bool found = spin_.spin(began, spin_.budget_now(), [&] {
      return any_ring_readable() || (looks.due() && (ready = wait_once(0)) != 0);
    });
    if (found) return ready;
  }
  if (sleep_rings()) timeout_ms = 0;  // frames came between the round and now
  const int ready = wait_once(timeout_ms);
  wake_rings();
  spin_.slept(began);
  return ready;
}

int Endpoint::wait_once(int timeout_ms) {
  return (*poller_)->wait(ready_, timeout_ms);
}

proto::Result<std::unique_ptr<ControlConnection>> Endpoint::open_control() {
  if (options_.hello.role == proto::Role::worker) {
    auto inherited = take_inherited_control();
    if (!inherited) return inherited.error();
    if (*inherited) {
      inherited_control_ = true;
      return ControlConnection::open_on(std::move(*inherited),
                                        "the daemon that started this worker", options_.hello,
                                        options_.hello_timeout);
    }
  }
  return ControlConnection::open(options_.socket_path, options_.hello, options_.hello_timeout);
}

void Endpoint::connect_now() {
  // Without waiting for the reply: the rounds take it as it comes (advance_handshake), and
  // the established channels are served meanwhile, even by a daemon that never answers.
  auto started = ControlConnection::start(options_.socket_path, options_.hello);
  if (!started) return schedule_reconnect();
  connecting_ = std::move(*started);
  handshake_deadline_ = Clock::now() + options_.hello_timeout;
  reconnect_at_ = Clock::time_point::max();
  watch_control(connecting_->fd(), &connecting_, true);
}

void Endpoint::advance_handshake(bool readable) {
  if (readable) {
    auto done = connecting_->handshake();
    if (!done) {
      abandon_handshake();
      return schedule_reconnect();
    }
    if (*done) {
      watch_control(connecting_->fd(), &connecting_, false);
      control_ = std::move(connecting_);
      reconnect_delay_ = options_.reconnect_min;
      return begin_session();
    }
  }
  if (Clock::now() >= handshake_deadline_) {
    abandon_handshake();
    schedule_reconnect();
  }
}

void Endpoint::abandon_handshake() {
  if (!connecting_) return;
  watch_control(connecting_->fd(), &connecting_, false);
  connecting_.reset();
}

void Endpoint::schedule_reconnect() {
  reconnect_delay_ = std::min(reconnect_delay_ * 2, options_.reconnect_max);
  reconnect_at_ = Clock::now() + reconnect_delay_;
}

void Endpoint::begin_session() {
  watch_control(control_->fd(), &control_, true);
  ++epoch_;
  {
    // Wants belong to a daemon session: the owner asks the new daemon again (on_session).
    std::lock_guard lock(watch_mutex_);
    wants_to_send_.clear();
  }
  wants_in_flight_.clear();
  hooks_.on_session(control_->reply(), control_->take_segment_fd());
  // Frames that arrived together with the hello reply are already buffered.
  handle_control();
  send_wants();
}

void Endpoint::want(std::string_view method) {
  {
    std::lock_guard lock(watch_mutex_);
    wants_to_send_.emplace_back(method);
  }
  wake();
}

void Endpoint::send_wants() {
  std::vector<std::string> methods;
  {
    std::lock_guard lock(watch_mutex_);
    if (!control_ || wants_to_send_.empty()) return;
    methods.swap(wants_to_send_);
  }
  for (std::string& method : methods) {
    const std::uint64_t id = next_request_id_++;
    if (auto sent = control_->send_want(id, method); !sent) return close_control(sent.error());
    wants_in_flight_.emplace(id, std::move(method));
  }
}

void Endpoint::handle_control() {
  if (!control_) return;
  auto open = control_->receive();
  if (!open) return close_control(open.error());
  for (;;) {
    auto event = control_->next();
    if (!event) return close_control(event.error());
    if (!*event) break;
    if (auto* intro = std::get_if<Introduction>(&**event)) {
      add_channel(std::make_shared<DirectChannel>(std::move(*intro), epoch_));
    } else if (auto* gone = std::get_if<proto::PeerGone>(&**event)) {
      drop_peer(*gone);
    } else if (auto* draining = std::get_if<proto::PeerDraining>(&**event)) {
      mark_draining(*draining);
    } else if (auto* none = std::get_if<proto::NoWorker>(&**event)) {
      hooks_.on_no_worker(*none);
    } else if (auto* answer = std::get_if<RequestAnswer>(&**event)) {
      auto asked = wants_in_flight_.find(answer->id);
      if (asked == wants_in_flight_.end()) continue;  // not ours to match: ignored
      const std::string method = std::move(asked->second);
      wants_in_flight_.erase(asked);
      hooks_.on_want_answered(method, answer->error);
    }
    // ipc.shutdown: established channels keep working; the EOF that follows reconnects.
  }
  if (!*open) close_control(Error{Errc::daemon_unreachable, "the daemon closed the connection"});
}

void Endpoint::close_control(const Error& why) {
  watch_control(control_->fd(), &control_, false);
  control_.reset();
  wants_in_flight_.clear();  // never answered now
  reconnect_delay_ = options_.reconnect_min;
  reconnect_at_ = inherited_control_ ? Clock::time_point::max() : Clock::now() + reconnect_delay_;
  hooks_.on_daemon_lost(why);
}

void Endpoint::handle_channel(std::size_t index, bool socket_ready) {
  const std::shared_ptr<DirectChannel> channel = channels_[index];
  FramedSocket& socket = channel->socket();
  if (socket.wants_write()) {
    if (auto flushed = socket.flush(); !flushed) return close_channel(index, flushed.error());
  }
  auto open = read_frames(channel, socket_ready);
  if (!open) return close_channel(index, open.error());
  if (!*open) {
    close_channel(index, Error{Errc::peer_gone, "peer '" + channel->peer().name + "' (pid " +
                                                    std::to_string(channel->peer().pid) +
                                                    ") closed its channel"});
  }
}

bool Endpoint::read_lent(const std::shared_ptr<DirectChannel>& channel, bool socket_ready) {
  auto open = read_frames(channel, socket_ready);
  if (open && *open) return true;
  // A round closes the channel and reports it: a broken one must read as ended there too.
  if (!open) channel->socket().shut_down();
  return false;
}

proto::Result<bool> Endpoint::read_frames(const std::shared_ptr<DirectChannel>& channel,
                                          bool socket_ready) {
  std::lock_guard reading(channel->read_mutex);
  FramedSocket& socket = channel->socket();
  // Frames a pause left in the buffer go first: the socket is read only when none is complete,
  // so the fds held for frames still arriving stay within one or two frames' worth.
  auto delivered = deliver_frames(channel);
  if (!delivered) return delivered.error();
  if (!*delivered) return true;  // paused: the frames (and an EOF) wait
  proto::Result<bool> open = true;
  if (socket_ready) {
    open = socket.receive();  // the ring's frames too
  } else if (auto taken = socket.take_ring(); !taken) {
    return taken.error();
  }
  if (!open) return open.error();
  delivered = deliver_frames(channel);
  if (!delivered) return delivered.error();
  return *open || !*delivered;  // an EOF behind a pause is seen after it
}

proto::Result<bool> Endpoint::deliver_frames(const std::shared_ptr<DirectChannel>& channel) {
  for (;;) {
    if (!input_open(*channel)) return false;
    auto inbound = channel->socket().next();
    if (!inbound) return inbound.error();
    if (!*inbound) return true;
    hooks_.on_message(channel, **inbound);
  }
}

void Endpoint::offer_ring(DirectChannel& channel) {
  if (options_.ring_bytes == 0 || channel.peer().rings != ring::kLayoutVersion) return;
  auto ring = ChannelRing::create(options_.ring_bytes);
  // Without one (out of memory or fds) the channel keeps socket frames both ways: the peer
  // writes into its ring only once it has this side's.
  if (!ring) return;
  // Offered only once sent: a side whose offer was lost would write into a ring its peer
  // never maps (the peer's own offer still makes the rings live here).
  const int file = ring->file();
  if (channel.socket().send(FramedSocket::ring_offer(), {&file, 1})) {
    channel.socket().offer_ring(std::move(*ring));
  }
}

void Endpoint::add_channel(const std::shared_ptr<DirectChannel>& channel) {
  channel->socket().on_backlog(backlog_notifier());
  offer_ring(*channel);
  {
    std::lock_guard lock(watch_mutex_);
    watch_locked(*channel, true);
  }
  channels_.push_back(channel);
  hooks_.on_channel(channel);
}

void Endpoint::close_channel(std::size_t index, const Error& why) {
  const std::shared_ptr<DirectChannel> channel = channels_[index];
  channels_.erase(channels_.begin() + static_cast<std::ptrdiff_t>(index));
  {
    std::lock_guard lock(watch_mutex_);
    change_watch_locked(*channel, false, false);
    channel->watch.closed = true;
    channel->watch.round_sleep = RingSleep();  // before the channel (and its socket) may go
  }
  // A peer that broke the protocol or the channel's limits is told why, with the code, in an
  // answer with id 0 (best effort: it may not read any more).
  if (why.code != Errc::peer_gone && why.code != Errc::cancelled && why.code != Errc::io_error) {
    (void)channel->socket().send_on_socket(proto::Message::failure(0, why.code, why.message));
  }
  channel->socket().shut_down();
  hooks_.on_channel_closed(channel, why);
}

void Endpoint::watch_locked(DirectChannel& channel, bool watched) {
  if (channel.watch.watched == watched) return;
  change_watch_locked(channel, watched, channel.watch.backlog_watched);
}

void Endpoint::watch_control(int fd, const void* which, bool watched) {
  (*poller_)->change(fd, const_cast<void*>(which), {.input = !watched}, {.input = watched});
}

void Endpoint::lend(const std::shared_ptr<DirectChannel>& channel) {
  std::lock_guard lock(watch_mutex_);
  // The borrower reads the ring and sleeps on it for itself: were the rounds still asleep on
  // it, the worker would ring for every answer the borrower spins for.
  if (channel->watch.loans++ == 0) channel->watch.round_sleep = RingSleep();
}

void Endpoint::unwatch_lent(const std::shared_ptr<DirectChannel>& channel) {
  std::lock_guard lock(watch_mutex_);
  if (channel->watch.loans == 0 || channel->watch.unwatched_for_loan) return;
  channel->watch.unwatched_for_loan = true;
  watch_locked(*channel, false);
}

void Endpoint::give_back(const std::shared_ptr<DirectChannel>& channel) {
  bool frames_waiting = false;
  {
    std::lock_guard lock(watch_mutex_);
    DirectChannel::Watch& watch = channel->watch;
    if (--watch.loans != 0) return;
    const bool usable = !watch.closed && !watch.paused;
    if (std::exchange(watch.unwatched_for_loan, false) && usable) watch_locked(*channel, true);
    // Rounds asleep since before the loan slept on its ring for nobody: they do now (the
    // peer rings for them), and are woken for frames already there.
    if (rounds_asleep_ && usable) {
      watch.round_sleep = RingSleep(channel->socket());
      frames_waiting = watch.round_sleep.frames_waiting();
    }
  }
  if (frames_waiting) wake();
}

bool Endpoint::input_open(DirectChannel& channel) {
  bool accepts = hooks_.accepts_input(channel);
  if (accepts != channel.watch.paused.load(std::memory_order_relaxed)) return accepts;
  std::lock_guard lock(watch_mutex_);
  channel.watch.paused.store(!accepts, std::memory_order_relaxed);
  // A handler thread that made room between the check and the store saw the channel not yet
  // paused and asked for no resume: look once more, or the channel would stay paused for good.
  // (The fences order this store before those loads, and a settle's count before its check.)
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!accepts && hooks_.accepts_input(channel)) {
    accepts = true;
    channel.watch.paused.store(false, std::memory_order_relaxed);
  }
  if (!channel.watch.closed && !channel.watch.unwatched_for_loan) {
    watch_locked(channel, accepts);
  }
  return accepts;
}

void Endpoint::resume_input(const std::shared_ptr<DirectChannel>& channel) {
  {
    std::lock_guard lock(watch_mutex_);
    if (!channel->watch.paused.load(std::memory_order_relaxed) || channel->watch.closed) return;
    scheduled_.push_back(channel);
  }
  wake();
}

void Endpoint::fail_channel(const std::shared_ptr<DirectChannel>& channel, proto::Error why) {
  {
    std::lock_guard lock(watch_mutex_);
    if (channel->watch.closed) return;
    if (!channel->watch.close_reason) channel->watch.close_reason = std::move(why);
    scheduled_.push_back(channel);
  }
  wake();  // the round closes it, after telling the peer why (close_channel)
}

void Endpoint::handle_scheduled() {
  std::vector<std::shared_ptr<DirectChannel>> scheduled;
  {
    std::lock_guard lock(watch_mutex_);
    if (!scheduled_.empty()) scheduled.swap(scheduled_);
  }
  for (const auto& channel : scheduled) {
    const auto found = std::find(channels_.begin(), channels_.end(), channel);
    if (found == channels_.end()) continue;  // closed meanwhile
    const auto index = static_cast<std::size_t>(found - channels_.begin());
    std::optional<Error> reason;
    {
      std::lock_guard lock(watch_mutex_);
      reason = channel->watch.close_reason;
    }
    if (reason) {
      close_channel(index, *reason);
    } else {
      handle_channel(index);
    }
  }
  if (options_.backlog_stall_limit.count() == 0) return;
  const Clock::time_point now = Clock::now();
  for (std::size_t i = channels_.size(); i-- > 0;) {
    const FramedSocket& socket = channels_[i]->socket();
    if (!socket.wants_write() ||
        now - socket.last_write_progress() < options_.backlog_stall_limit) {
      continue;
    }
    close_channel(i, Error{Errc::timeout,
                           "the peer read none of the " + std::to_string(socket.backlog_bytes()) +
                               " bytes of answers waiting for it in " +
                               std::to_string(options_.backlog_stall_limit.count()) + " ms"});
  }
}

void Endpoint::handle_ready(const DirectChannel* channel) {
  // An event may name a channel closed earlier in this round: look it up, never dereference.
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    if (channels_[i].get() == channel) return handle_channel(i);
  }
}

void Endpoint::drop_peer(const proto::PeerGone& gone) {
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    const auto& channel = channels_[i];
    if (channel->epoch() != epoch_ || channel->peer().peer != gone.peer) continue;
    // Answers the peer sent before it ended are still valid: take them first.
    const std::size_t before = channels_.size();
    handle_channel(i);
    if (channels_.size() == before) {
      close_channel(
          i, Error{Errc::peer_gone, "peer '" + channel->peer().name + "' ended: " + gone.reason});
    }
    return;
  }
}

void Endpoint::mark_draining(const proto::PeerDraining& draining) {
  for (const auto& channel : channels_) {
    if (channel->epoch() != epoch_ || channel->peer().peer != draining.peer) continue;
    channel->draining.store(true, std::memory_order_relaxed);
    return hooks_.on_peer_draining(channel);
  }
}

}  // namespace fastmd::ipc::detail
