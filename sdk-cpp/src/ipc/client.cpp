// fastmd::ipc::Client (see fastmd/ipc/client.hpp). Every call is a Pending entry keyed by
// its id until it completes; the entry says where the call is (on a channel, or waiting for
// a worker) so that every way a call can end — result, error, deadline, cancel, worker
// death, no worker, client shutdown — finds it and completes it exactly once. The I/O
// thread reads every channel, except one that a synchronous call() borrowed: that caller
// waits on its call's channel and reads its answer itself, so the answer wakes the caller
// directly instead of waking the I/O thread which would then wake the caller.
#include "fastmd/ipc/client.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "answer_error.hpp"
#include "client_core.hpp"
#include "connection_generation.hpp"
#include "daemon_locator.hpp"
#include "endpoint.hpp"
#include "fastmd/ipc/socket_path.hpp"
#include "fastmd/platform/wake_up.hpp"
#include "lent_blocks.hpp"
#include "request_batch.hpp"

namespace fastmd::ipc {

using detail::Clock;
using detail::DirectChannel;
using proto::Errc;
using proto::Error;

namespace {

constexpr Clock::time_point kNever = Clock::time_point::max();

struct Pending {
  std::string method;
  ByteView params;  // the caller's bytes (borrowed) or `owned`
  std::vector<std::byte> owned;
  std::shared_ptr<const detail::PayloadSource> source;  // instead of params: writes itself
  detail::AnswerHandler on_answer;  // a binding's: takes the answer resolved, not a Reply
  bool idempotent = true;
  std::uint32_t sends = 0;  // how often it was sent (policy::kMaxSendsPerCall)
  std::chrono::milliseconds timeout{0};
  Clock::time_point deadline = kNever;
  Clock::time_point wait_until = kNever;   // while waiting for a worker
  std::shared_ptr<DirectChannel> channel;  // null while waiting for a worker
  Callback done;
};

// Outcomes to deliver once the lock is released (callbacks may call the client again).
using Completions = std::vector<std::pair<Callback, CallResult>>;

void deliver(Completions& completions) {
  for (auto& [done, result] : completions) done(std::move(result));
  completions.clear();
}

// The calling thread's wake-up for synchronous calls, notified by another thread that
// completes the call so that the caller's poll() returns. Shared: a completer holds it open even
// when the caller's thread has ended by the time it writes. Empty when none could be opened.
std::shared_ptr<const platform::WakeUp> caller_wake_up() {
  thread_local const auto wake = [] {
    auto opened = platform::WakeUp::open();
    return std::make_shared<const platform::WakeUp>(opened ? std::move(*opened)
                                                           : platform::WakeUp{});
  }();
  return wake;
}

// The outcome of a synchronous call: set once, by whichever thread completes the call.
struct SyncOutcome {
  std::optional<CallResult> result;
  std::atomic<bool> done{false};
};

// A channel borrowed from the I/O thread's watch (Endpoint::lend) while a caller reads it;
// given back when the caller moves on or leaves.
class ChannelLoan {
 public:
  explicit ChannelLoan(detail::Endpoint& endpoint) : endpoint_(endpoint) {}
  ~ChannelLoan() { switch_to(nullptr); }
  ChannelLoan(const ChannelLoan&) = delete;
  ChannelLoan& operator=(const ChannelLoan&) = delete;

  void switch_to(const std::shared_ptr<DirectChannel>& channel) {
    if (channel == borrowed_) return;
    if (borrowed_) endpoint_.give_back(borrowed_);
    borrowed_ = channel;
    if (borrowed_) endpoint_.lend(borrowed_);
  }

 private:
  detail::Endpoint& endpoint_;
  std::shared_ptr<DirectChannel> borrowed_;
};

}  // namespace

class Client::Impl final : public detail::EndpointHooks {
 public:
  Impl(ClientOptions options, std::unique_ptr<platform::PollSet> poll_set)
      : options_(std::move(options)),
        endpoint_(endpoint_options(options_), *this, std::move(poll_set)) {}

  ~Impl() override { shut_down(); }

  proto::Status start() {
    if (auto connected = endpoint_.connect(); !connected) return connected;
    if (!driven_by_caller()) endpoint_.start_thread();
    return {};
  }

  bool driven_by_caller() const { return options_.drive == ClientDrive::caller; }

  // ClientDrive::caller: runs rounds on the calling thread until `done()` (or the client stops).
  template <class Done>
  void run_until(Done done, Clock::time_point until = kNever) {
    while (!done() && Clock::now() < until && endpoint_.run_round(/*may_block=*/true, until)) {
    }
    // A blocking round leaves the rings awake; the caller's loop sleeps next, so the peers
    // must ring for it (a non-blocking round ends by saying so).
    if (driven_by_caller()) process();
  }

  int poll_fd() const { return endpoint_.poll_fd(); }
  void process() { endpoint_.run_round(/*may_block=*/false); }
  bool spin_for_answers(Clock::time_point until, const std::function<bool()>& interrupted) {
    if (!driven_by_caller()) return false;
    const bool came =
        in_flight() > 0 ? endpoint_.spin_for_input(until, interrupted) : endpoint_.rest_rings();
    if (!came) return false;
    // The rings stay awake while the callbacks start the next calls: their answers then come
    // without a doorbell (one sendmsg for the worker, a poll and a recvmsg here, per call).
    endpoint_.run_round(/*may_block=*/false, kNever, /*spin_next=*/true);
    return true;
  }
  void end_spin() {
    if (driven_by_caller() && endpoint_.rest_rings()) process();
  }
  Clock::time_point next_wakeup() { return endpoint_.next_wakeup(); }

  CallResult call(std::string_view method, ByteView params, const CallOptions& options) {
    if (driven_by_caller()) {
      std::optional<CallResult> outcome;
      start_call(
          method, params, {}, [&outcome](CallResult r) { outcome.emplace(std::move(r)); }, options);
      run_until([&] { return outcome.has_value(); });
      // Only a client that is closing stops its rounds, and closing completes every call.
      return outcome ? std::move(*outcome) : Error{Errc::cancelled, "the client is closing"};
    }
    std::shared_ptr<const platform::WakeUp> wake = caller_wake_up();
    if (!*wake) {
      // No wake-up (fd limit): the I/O thread reads the answer and hands it over.
      std::promise<CallResult> outcome;
      std::future<CallResult> result = outcome.get_future();
      start_call(
          method, params, {}, [&outcome](CallResult r) { outcome.set_value(std::move(r)); },
          options);
      return result.get();
    }
    // Not a std::promise: its set_value costs a futex call every time (std::call_once).
    SyncOutcome outcome;
    const std::thread::id caller = std::this_thread::get_id();
    // A completer on another thread publishes the result, then wakes the caller, touching
    // nothing of the caller's after `done` is set: the caller may return at once.
    const auto complete = [&outcome, wake, caller](CallResult r) {
      outcome.result.emplace(std::move(r));
      const bool elsewhere = std::this_thread::get_id() != caller;
      outcome.done.store(true, std::memory_order_release);
      if (elsewhere) wake->notify();
    };
    ChannelLoan loan(endpoint_);
    const CallId id = start_call(method, params, {}, complete, options, &loan);
    read_own_answer(id, outcome, *wake, loan);
    return std::move(*outcome.result);
  }

  // `loan`, for a synchronous call: the channel the call goes to is lent to the caller before
  // the request is written, so its answer cannot wake the I/O thread.
  CallId start_call(std::string_view method, ByteView params, std::vector<std::byte> owned,
                    Callback done, const CallOptions& options, ChannelLoan* loan = nullptr) {
    return start_one(
        method, options, std::move(done),
        [&](Pending& call) {
          call.owned = std::move(owned);
          call.params = call.owned.empty() ? params : ByteView{call.owned};
        },
        loan);
  }

  // A binding's call (client_core.hpp): errors reach `on_answer` through `done`.
  CallId start_source_call(std::string_view method,
                           std::shared_ptr<const detail::PayloadSource> source,
                           const CallOptions& options, detail::AnswerHandler on_answer) {
    Callback done = [on_answer](CallResult failed) { on_answer(failed.error()); };
    return start_one(method, options, std::move(done), [&](Pending& call) {
      call.source = std::move(source);
      call.on_answer = std::move(on_answer);
    });
  }

  // Starts one call: `setup(call)` gives it its payload, then it is sent or waits for a worker.
  template <class Setup>
  CallId start_one(std::string_view method, const CallOptions& options, Callback done, Setup setup,
                   ChannelLoan* loan = nullptr) {
    Completions completions;
    CallId id;
    {
      std::lock_guard lock(mutex_);
      id = next_id_++;
      Pending& call = add_locked(id, method, options, std::move(done));
      setup(call);
      dispatch_locked(id, call, completions, loan);
    }
    deliver(completions);
    return id;
  }

  void set_attached_view(shm::AttachedView view) { attached_view_ = view; }

  // A binding's batch (client_core.hpp): call i reports through `on_answer(i, ...)`.
  CallId start_source_batch(std::string_view method,
                            std::vector<std::shared_ptr<const detail::PayloadSource>> sources,
                            const CallOptions& options, detail::BatchAnswerHandler on_answer) {
    auto shared = std::make_shared<detail::BatchAnswerHandler>(std::move(on_answer));
    return start_batch(method, sources.size(), options, [&](std::size_t i, Pending& call) {
      call.source = std::move(sources[i]);
      call.on_answer = [shared, i](proto::Result<detail::Answer*> answer) {
        (*shared)(i, std::move(answer));
      };
      return Callback([shared, i](CallResult failed) { (*shared)(i, failed.error()); });
    });
  }

  // Starts `count` calls of `method` written together: `setup(i, call)` gives call i its
  // payload and returns its Callback. Each call goes to the worker with the fewest calls
  // outstanding at that moment (so the batch spreads evenly), is placed like any call, and is
  // written with that worker's other calls of the batch (RequestBatch); a call without a worker
  // waits for one like any other. Returns the first call's id (the others follow in order).
  template <class Setup>
  CallId start_batch(std::string_view method, std::size_t count, const CallOptions& options,
                     Setup setup) {
    Completions completions;
    CallId first;
    {
      std::lock_guard lock(mutex_);
      first = next_id_;
      std::unordered_map<DirectChannel*, detail::RequestBatch> batches;
      for (std::size_t i = 0; i < count; ++i) {
        const CallId id = next_id_++;
        Pending& call = add_locked(id, method, options, nullptr);
        call.done = setup(i, call);
        std::shared_ptr<DirectChannel> channel = pick_locked(method);
        if (!channel) {
          dispatch_locked(id, call, completions);  // waits for a worker
          continue;
        }
        assign_locked(call, channel);
        detail::Outgoing out;
        out.message = proto::Message::request(id, call.method);
        if (proto::Status placed = place_locked(call, *channel, out); !placed) {
          complete_locked(pending_.find(id), placed.error(), completions, false);
          continue;
        }
        batches.try_emplace(channel.get(), channel->socket()).first->second.add(out);
      }
      for (const auto& channel : channels_) {
        auto it = batches.find(channel.get());
        if (it != batches.end() && !it->second.finish()) {
          channel->socket().shut_down();  // its calls are re-sent or failed when it closes
          endpoint_.wake();
        }
      }
    }
    deliver(completions);
    return first;
  }

  std::vector<CallResult> call_many(std::string_view method, std::span<const ByteView> params,
                                    const CallOptions& options) {
    struct Batch {
      std::mutex mutex;
      std::condition_variable all_done;
      std::vector<std::optional<CallResult>> results;
      std::size_t remaining = 0;
    } batch;
    batch.results.resize(params.size());
    batch.remaining = params.size();

    start_batch(method, params.size(), options, [&](std::size_t i, Pending& call) {
      call.params = params[i];
      return Callback([&batch, i](CallResult result) {
        std::lock_guard batch_lock(batch.mutex);
        batch.results[i].emplace(std::move(result));
        if (--batch.remaining == 0) batch.all_done.notify_all();
      });
    });

    if (driven_by_caller()) {
      run_until([&] {
        std::lock_guard batch_lock(batch.mutex);
        return batch.remaining == 0;
      });
    }
    std::unique_lock batch_lock(batch.mutex);
    batch.all_done.wait(batch_lock, [&] { return batch.remaining == 0; });
    std::vector<CallResult> results;
    results.reserve(params.size());
    for (auto& result : batch.results) results.push_back(std::move(*result));
    return results;
  }

  // Waits until call `id` is done, on its channel borrowed from the I/O thread, reading it on
  // this thread. A call completed by another thread (a deadline, a failover, an answer a round
  // read) wakes this one through `wake`; a wake-up left over from an earlier call finds the
  // call not done and is ignored.
  void read_own_answer(CallId id, const SyncOutcome& outcome, const platform::WakeUp& wake,
                       ChannelLoan& loan) {
    std::shared_ptr<DirectChannel> ended;
    while (!outcome.done.load(std::memory_order_acquire)) {
      std::shared_ptr<DirectChannel> channel = channel_of(id);
      if (channel == ended) channel.reset();  // given back: its end is the I/O thread's to report
      loan.switch_to(channel);
      pollfd fds[2] = {{wake.fd(), POLLIN, 0}, {channel ? channel->socket().fd() : -1, POLLIN, 0}};
      // While answers come quickly, the answer is awaited in the ring's memory: no syscall on
      // either side (the worker rings only a reader that said it may sleep).
      const auto began = std::chrono::steady_clock::now();
      const bool spins = channel && channel->socket().ring_live();
      bool ring_ready = spins && answer_spin_.spin(began, answer_spin_.budget_now(), [&] {
        return channel->socket().ring_readable() || outcome.done.load(std::memory_order_acquire);
      });
      int polled = 0;
      if (!ring_ready) {
        // This thread sleeps on the channel's socket: the rounds must not wake for it too.
        if (channel) endpoint_.unwatch_lent(channel);
        const detail::RingSleep sleep =
            channel ? detail::RingSleep(channel->socket()) : detail::RingSleep();
        ring_ready = sleep.frames_waiting();
        if (!ring_ready) polled = ::poll(fds, 2, -1);
        if (spins) answer_spin_.slept(began);
      }
      if (polled < 0) continue;  // EINTR
      if (fds[0].revents & POLLIN) wake.drain();
      const bool socket_ready = fds[1].revents != 0;
      if (channel && (ring_ready || socket_ready || channel->socket().ring_readable()) &&
          !endpoint_.read_lent(channel, socket_ready)) {
        ended = channel;
        loan.switch_to(nullptr);
      }
    }
  }

  // The channel call `id` is in flight on; null while it waits for a worker, or once it was
  // completed (by another thread, whose wake-up follows).
  std::shared_ptr<DirectChannel> channel_of(CallId id) const {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(id);
    return it == pending_.end() ? nullptr : it->second.channel;
  }

  bool cancel(CallId id) {
    Completions completions;
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return false;
      complete_locked(it, Error{Errc::cancelled, "call '" + it->second.method + "' was cancelled"},
                      completions, /*tell_worker=*/true);
    }
    deliver(completions);
    return true;
  }

  bool wait_for_workers(std::size_t count, std::chrono::milliseconds timeout) {
    if (driven_by_caller()) {
      run_until([&] { return worker_count() >= count; }, Clock::now() + timeout);
      return worker_count() >= count;
    }
    std::unique_lock lock(mutex_);
    return workers_changed_.wait_for(lock, timeout, [&] { return live_workers_locked() >= count; });
  }

  std::size_t worker_count() const {
    std::lock_guard lock(mutex_);
    return live_workers_locked();
  }

  std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

  std::vector<detail::WorkerInfo> workers() const {
    std::lock_guard lock(mutex_);
    std::vector<detail::WorkerInfo> out;
    for (const auto& channel : channels_) {
      if (!generation_of(*channel).listed()) continue;
      const proto::Introduce& peer = channel->peer();
      out.push_back({.name = peer.name,
                     .pid = peer.pid,
                     .segment = channel->peer_segment && peer.segment ? peer.segment->segment : 0,
                     .outstanding = channel->outstanding.load(std::memory_order_relaxed)});
    }
    return out;
  }

  detail::Traffic traffic() const {
    std::lock_guard lock(mutex_);
    return traffic_;
  }

  // --- EndpointHooks, on the I/O thread (on_message also on a thread in call()) ---

  void on_session(const proto::HelloReply& reply, platform::UniqueFd segment_fd) override {
    auto own = detail::open_own_segment(std::move(segment_fd), reply.segment,
                                        [this] { lent_blocks_.take_back_from_exited(); });
    std::lock_guard lock(mutex_);
    own_segment_ = std::move(own);
    // Channels of the earlier connection close once their worker is introduced again and
    // their calls are settled (PROTOCOL.md §3.8 item 4, on_channel).
    connection_ = endpoint_.epoch();
    // A new daemon: its wait applies, and calls still waiting ask it afresh.
    daemon_takes_wants_ = reply.no_worker_wait_ms.has_value();
    no_worker_wait_ = daemon_takes_wants_ ? std::chrono::milliseconds(*reply.no_worker_wait_ms)
                                          : policy::kNoWorkerWaitUnannounced;
    wants_.clear();
    // The hello's wants asked the daemon for those methods already (it answers them with
    // ipc.no_worker and introductions): calls for them wait without an ipc.want.
    for (const std::string& method : options_.wants) wants_.emplace(method, std::nullopt);
    const Clock::time_point now = Clock::now();
    for (CallId id : waiting_) {
      auto it = pending_.find(id);
      if (it == pending_.end() || it->second.channel) continue;
      it->second.wait_until = wait_limit_locked(it->second, now);
      want_locked(it->second.method);
    }
  }

  void on_channel(const std::shared_ptr<DirectChannel>& channel) override {
    auto peer_segment =
        detail::open_peer_segment(channel->take_peer_segment_fd(), channel->peer().segment);
    if (peer_segment) channel->peer_segment = std::move(*peer_segment);
    Completions completions;
    {
      std::lock_guard lock(mutex_);
      channel->own_segment = own_segment_;
      lent_blocks_.opened(channel.get(), channel->peer(), channel->own_segment);
      // The same worker's channel of an earlier connection takes no new call from now on.
      for (const auto& earlier : channels_) {
        if (earlier->epoch() != connection_ && earlier->peer().pid == channel->peer().pid) {
          earlier->superseded = true;
          retire_if_settled_locked(earlier);
        }
      }
      channels_.push_back(channel);
      // Calls that waited for a worker go to the new one now.
      std::deque<CallId> still_waiting;
      for (CallId id : waiting_) {
        auto it = pending_.find(id);
        if (it == pending_.end() || it->second.channel) continue;
        if (channel->serves(it->second.method)) {
          dispatch_locked(id, it->second, completions);
        } else {
          still_waiting.push_back(id);
        }
      }
      waiting_ = std::move(still_waiting);
    }
    workers_changed_.notify_all();
    deliver(completions);
  }

  void on_message(const std::shared_ptr<DirectChannel>& channel,
                  detail::Inbound& inbound) override {
    const proto::Message& m = inbound.message;
    if (!m.is_response()) return;  // workers send only responses
    Callback done;
    detail::AnswerHandler on_answer;
    Completions resent;  // errors of calls re-sent to no worker at all
    bool sent_elsewhere = false;
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(m.id);
      if (it != pending_.end() && it->second.channel == channel) {
        if (m.error && m.error->code == policy::kNotRunAnswer) {
          // The worker is stopping and did not run the call: it goes to another worker.
          channel->draining.store(true, std::memory_order_relaxed);
          sent_elsewhere = resend_not_run_locked(m.id, it->second, resent);
        }
        if (!sent_elsewhere) {
          done = std::move(it->second.done);
          on_answer = std::move(it->second.on_answer);
          forget_locked(it);
        }
      }
      close_if_drained_locked(channel);
    }
    deliver(resent);
    if (sent_elsewhere) return;
    if (!done) {
      // The answer to a call that timed out or was cancelled: release its block, if any.
      if (m.shm) (void)detail::take_payload(m, inbound.fds, channel->peer_segment.get());
      return;
    }
    if (m.error) return done(detail::error_of_answer(*m.error));
    if (on_answer) {
      auto resolved =
          detail::resolve_payload(m, inbound.fds, channel->peer_segment.get(), attached_view_);
      if (!resolved) return on_answer(resolved.error());
      count_received(resolved->path);
      detail::Answer answer{std::move(*resolved), channel->peer_segment, m.shm ? &*m.shm : nullptr};
      return on_answer(&answer);
    }
    auto payload = detail::take_payload(m, inbound.fds, channel->peer_segment.get());
    if (!payload) return done(payload.error());
    count_received(!m.shm                    ? detail::PayloadPath::inline_frame
                   : m.shm->attached_memfd() ? detail::PayloadPath::oneoff_memfd
                                             : detail::PayloadPath::segment_block);
    if (payload->hold) return done(Reply(payload->bytes, std::move(payload->hold)));
    done(Reply(std::vector<std::byte>(payload->bytes.begin(), payload->bytes.end())));
  }

  void on_channel_closed(const std::shared_ptr<DirectChannel>& channel, const Error& why) override {
    // The request blocks its worker never released come back now if its process is gone, so
    // the re-sends below find room in the segment.
    lent_blocks_.closed(channel.get());
    Completions completions;
    {
      std::lock_guard lock(mutex_);
      std::erase(channels_, channel);
      std::vector<CallId> affected;
      for (const auto& [id, call] : pending_) {
        if (call.channel == channel) affected.push_back(id);
      }
      for (CallId id : affected) {
        auto it = pending_.find(id);
        Pending& call = it->second;
        if (call.idempotent && !closing_ && call.sends < policy::kMaxSendsPerCall) {
          call.channel->outstanding.fetch_sub(1, std::memory_order_relaxed);
          call.channel.reset();
          dispatch_locked(id, call, completions);
          continue;
        }
        complete_locked(
            it,
            Error{Errc::peer_gone,
                  "call '" + call.method + "' was in flight on worker '" + channel->peer().name +
                      "' (pid " + std::to_string(channel->peer().pid) +
                      ") which ended: " + why.message +
                      (call.idempotent && !closing_ ? " (sent " + std::to_string(call.sends) +
                                                          " times, the most a call is sent)"
                                                    : std::string())},
            completions, /*tell_worker=*/false);
      }
    }
    workers_changed_.notify_all();
    deliver(completions);
  }

  void on_want_answered(const std::string& method, const std::optional<Error>& refusal) override {
    Completions completions;
    {
      std::lock_guard lock(mutex_);
      // METHOD_NOT_FOUND stands for this daemon session: later calls fail at once too (unless
      // a worker serving the method is introduced after all). Any other answer ends the ask;
      // a later call without a worker asks again.
      if (refusal && refusal->code == Errc::method_not_found) {
        wants_[method] = refusal;
      } else {
        wants_.erase(method);
      }
      if (refusal) {
        std::deque<CallId> still_waiting;
        for (CallId id : waiting_) {
          auto it = pending_.find(id);
          if (it == pending_.end() || it->second.channel) continue;
          if (it->second.method != method) {
            still_waiting.push_back(id);
            continue;
          }
          complete_locked(it, *refusal, completions, /*tell_worker=*/false);
        }
        waiting_ = std::move(still_waiting);
      }
    }
    deliver(completions);
  }

  void on_peer_draining(const std::shared_ptr<DirectChannel>& channel) override {
    std::lock_guard lock(mutex_);
    close_if_drained_locked(channel);
  }

  void on_no_worker(const proto::NoWorker& none) override {
    std::lock_guard lock(mutex_);
    const auto until = Clock::now() + std::chrono::milliseconds(none.wait_ms);
    for (CallId id : waiting_) {
      auto it = pending_.find(id);
      if (it != pending_.end() && !it->second.channel && it->second.method == none.method) {
        it->second.wait_until = std::min(it->second.wait_until, until);
      }
    }
  }

  Clock::time_point next_timer() override {
    std::lock_guard lock(mutex_);
    Clock::time_point earliest = std::min(lent_blocks_.next_check(),
                                          deadlines_.empty() ? kNever : deadlines_.begin()->first);
    for (CallId id : waiting_) {
      auto it = pending_.find(id);
      if (it != pending_.end() && !it->second.channel) {
        earliest = std::min(earliest, it->second.wait_until);
      }
    }
    return earliest;
  }

  void on_timer(Clock::time_point now) override {
    lent_blocks_.check(now);
    Completions completions;
    {
      std::lock_guard lock(mutex_);
      while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        auto it = pending_.find(deadlines_.begin()->second);
        complete_locked(
            it,
            Error{Errc::timeout, "call '" + it->second.method +
                                     "' got no result within its deadline of " +
                                     std::to_string(it->second.timeout.count()) + " ms"},
            completions, /*tell_worker=*/true);
      }
      std::deque<CallId> still_waiting;
      for (CallId id : waiting_) {
        auto it = pending_.find(id);
        if (it == pending_.end() || it->second.channel) continue;
        if (it->second.wait_until > now) {
          still_waiting.push_back(id);
          continue;
        }
        std::string why = "no worker serving '" + it->second.method + "' was introduced within " +
                          std::to_string(no_worker_wait_.count()) + " ms";
        if (daemon_takes_wants_) why += ", and the daemon did not answer ipc.want in time";
        complete_locked(it, Error{Errc::no_worker, std::move(why)}, completions,
                        /*tell_worker=*/false);
      }
      waiting_ = std::move(still_waiting);
    }
    deliver(completions);
  }

 private:
  static detail::EndpointOptions endpoint_options(const ClientOptions& options) {
    detail::EndpointOptions out;
    out.socket_path = resolve_socket_path(options.socket_path);
    out.hello.role = proto::Role::client;
    out.hello.pid = static_cast<std::uint32_t>(::getpid());
    out.hello.name = options.name;
    out.hello.wants = options.wants;
    out.hello_timeout = options.connect_timeout;
    out.reconnect_max = options.reconnect_max;
    out.spin_budget = options.spin_budget;
    offer_rings(out, options.ring_bytes);
    return out;
  }

  void shut_down() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    endpoint_.stop();
    Completions completions;
    {
      std::lock_guard lock(mutex_);
      for (auto& [id, call] : pending_) {
        completions.emplace_back(
            std::move(call.done),
            Error{Errc::cancelled, "call '" + call.method + "' was cancelled: the client closed"});
      }
      pending_.clear();
      deadlines_.clear();
      waiting_.clear();
    }
    deliver(completions);
  }

  Pending& add_locked(CallId id, std::string_view method, const CallOptions& options,
                      Callback done) {
    Pending& call = pending_[id];
    call.method.assign(method);
    call.idempotent = options.idempotent;
    call.done = std::move(done);
    call.timeout = options.timeout;
    if (options.timeout.count() > 0) {
      call.deadline = Clock::now() + options.timeout;
      const bool earliest = deadlines_.empty() || call.deadline < deadlines_.begin()->first;
      deadlines_.emplace(call.deadline, id);
      if (earliest) endpoint_.wake();  // the I/O loop sleeps until the earliest deadline
    }
    return call;
  }

  detail::ConnectionGeneration generation_of(const DirectChannel& channel) const {
    return {.current = channel.epoch() == connection_, .superseded = channel.superseded};
  }

  // The workers this client is introduced to now, each once: on its current connection's
  // channel, or on an earlier one until it is introduced again.
  std::size_t live_workers_locked() const {
    return static_cast<std::size_t>(
        std::count_if(channels_.begin(), channels_.end(),
                      [&](const auto& channel) { return generation_of(*channel).listed(); }));
  }

  // Closes a superseded channel of an earlier connection once no call is in flight on it;
  // closing it releases its mappings of that connection's segments (the channel owns them).
  void retire_if_settled_locked(const std::shared_ptr<DirectChannel>& channel) {
    if (!generation_of(*channel).closes_now(channel->outstanding.load(std::memory_order_relaxed)))
      return;
    endpoint_.fail_channel(channel, Error{Errc::cancelled,
                                          "the channel of an earlier daemon connection "
                                          "was closed once its calls were settled"});
  }

  // The introduced worker serving `method` with the fewest calls outstanding, on its newest
  // channel (a superseded one of an earlier connection takes no new call).
  std::shared_ptr<DirectChannel> pick_locked(std::string_view method) const {
    std::shared_ptr<DirectChannel> best;
    std::uint32_t best_load = 0;
    for (const auto& channel : channels_) {
      if (channel->socket().is_shut_down() || !channel->serves(method) ||
          !generation_of(*channel).takes_new_calls() ||
          channel->draining.load(std::memory_order_relaxed)) {
        continue;
      }
      const std::uint32_t load = channel->outstanding.load(std::memory_order_relaxed);
      if (!best || load < best_load) {
        best = channel;
        best_load = load;
      }
    }
    return best;
  }

  void assign_locked(Pending& call, const std::shared_ptr<DirectChannel>& channel) {
    call.channel = channel;
    ++call.sends;
    channel->outstanding.fetch_add(1, std::memory_order_relaxed);
  }

  // Sends the call to a worker, or parks it until one is introduced. `loan`: see start_call().
  void dispatch_locked(CallId id, Pending& call, Completions& completions,
                       ChannelLoan* loan = nullptr) {
    std::shared_ptr<DirectChannel> channel = pick_locked(call.method);
    if (!channel) {
      if (closing_) {
        return complete_locked(pending_.find(id), Error{Errc::cancelled, "the client is closing"},
                               completions, false);
      }
      auto refused = wants_.find(call.method);
      if (refused != wants_.end() && refused->second) {
        return complete_locked(pending_.find(id), *refused->second, completions, false);
      }
      call.wait_until = wait_limit_locked(call, Clock::now());
      waiting_.push_back(id);
      want_locked(call.method);
      endpoint_.wake();
      return;
    }
    assign_locked(call, channel);
    if (loan) loan->switch_to(channel);
    detail::Outgoing out;
    out.message = proto::Message::request(id, call.method);
    proto::Status placed = place_locked(call, *channel, out);
    if (!placed) return complete_locked(pending_.find(id), placed.error(), completions, false);
    if (proto::Status sent = out.send_on(channel->socket()); !sent) {
      if (sent.error().code == Errc::payload_too_large) {
        return complete_locked(pending_.find(id), sent.error(), completions, false);
      }
      // The channel is broken: closing it re-sends or fails its calls, this one included.
      channel->socket().shut_down();
      endpoint_.wake();
    }
  }

  // Places the call's payload for `channel`: inline, in the own segment, or one-off.
  proto::Status place_locked(const Pending& call, DirectChannel& channel, detail::Outgoing& out) {
    const detail::PayloadPolicy policy{options_.inline_threshold, channel.peer().max_frame,
                                       options_.shm_wait};
    proto::Status placed =
        call.source
            ? detail::place_payload(*call.source, policy, channel.own_segment.get(), scratch_, out)
            : detail::place_payload(call.params, policy, channel.own_segment.get(), out);
    if (!placed) return placed;
    // Lent to the worker until it releases the block, or its process is gone (LentBlocks).
    if (out.placed_in && out.message.shm &&
        !lent_blocks_.lend(&channel, *out.placed_in, *out.message.shm)) {
      return Error{Errc::peer_gone, "the worker's channel ended as the call was placed"};
    }
    traffic_.sent.count(out.path);
    return placed;
  }

  // A call the stopping worker did not run is sent elsewhere, idempotent or not, within
  // kMaxSendsPerCall. false: it is out of sends, and fails with the worker's answer.
  bool resend_not_run_locked(CallId id, Pending& call, Completions& completions) {
    if (closing_ || call.sends >= policy::kMaxSendsPerCall) return false;
    call.channel->outstanding.fetch_sub(1, std::memory_order_relaxed);
    call.channel.reset();
    dispatch_locked(id, call, completions);
    return true;
  }

  // A draining worker's channel is closed once none of this client's calls is on it (the
  // worker then ends sooner, PROTOCOL.md §3.11).
  void close_if_drained_locked(const std::shared_ptr<DirectChannel>& channel) {
    if (!channel->draining.load(std::memory_order_relaxed) ||
        channel->outstanding.load(std::memory_order_relaxed) != 0) {
      return;
    }
    channel->socket().shut_down();
    endpoint_.wake();
  }

  // How long a call without a worker waits: the daemon answers `ipc.want` within its
  // no-worker wait; the margin only bounds the wait on a daemon that died meanwhile.
  Clock::time_point wait_limit_locked(const Pending& call, Clock::time_point now) const {
    const auto margin = daemon_takes_wants_ ? policy::kDaemonAnswerMargin : Clock::duration{0};
    return std::min(call.deadline, now + no_worker_wait_ + margin);
  }

  // Asks the daemon for a worker serving `method`, unless this session asked already.
  void want_locked(const std::string& method) {
    if (!daemon_takes_wants_ || !wants_.emplace(method, std::nullopt).second) return;
    endpoint_.want(method);
  }

  void count_received(detail::PayloadPath path) {
    std::lock_guard lock(mutex_);
    traffic_.received.count(path);
  }

  // Removes a call from every index; the caller delivers its outcome.
  void forget_locked(std::unordered_map<CallId, Pending>::iterator it) {
    Pending& call = it->second;
    std::shared_ptr<DirectChannel> channel = std::move(call.channel);
    if (call.deadline != kNever) deadlines_.erase({call.deadline, it->first});
    pending_.erase(it);
    if (channel) {
      channel->outstanding.fetch_sub(1, std::memory_order_relaxed);
      retire_if_settled_locked(channel);
    }
  }

  void complete_locked(std::unordered_map<CallId, Pending>::iterator it, Error error,
                       Completions& completions, bool tell_worker) {
    Pending& call = it->second;
    if (tell_worker && call.channel) {
      const proto::ByteBuffer params = proto::encode_body(proto::Cancel{it->first});
      (void)call.channel->socket().send(proto::Message::notification(proto::kCancel, params));
    }
    completions.emplace_back(std::move(call.done), std::move(error));
    forget_locked(it);
  }

  ClientOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable workers_changed_;
  std::unordered_map<CallId, Pending> pending_;
  std::set<std::pair<Clock::time_point, CallId>> deadlines_;
  std::deque<CallId> waiting_;  // calls without a worker yet (entries may be stale: skip them)
  std::vector<std::shared_ptr<DirectChannel>> channels_;
  std::shared_ptr<detail::OwnSegment> own_segment_;
  std::uint64_t connection_ = 0;  // the current daemon connection's epoch (Endpoint::epoch)
  // This daemon session's `ipc.want`s by method: asked (nullopt) or refused for the session.
  std::unordered_map<std::string, std::optional<Error>> wants_;
  bool daemon_takes_wants_ = false;  // it announced its no-worker wait (and takes ipc.want)
  std::chrono::milliseconds no_worker_wait_{policy::kNoWorkerWaitUnannounced};
  CallId next_id_ = 1;
  bool closing_ = false;
  proto::ByteBuffer scratch_;  // a self-writing payload that may go inline is written here first
  shm::AttachedView attached_view_ = shm::AttachedView::read_only;  // one-offs, for on_answer
  detail::Traffic traffic_;                                         // payloads by path, both ways
  detail::LentBlocks lent_blocks_;  // request blocks, by the channel whose worker holds them
  detail::AdaptiveSpin answer_spin_{options_.spin_budget};  // synchronous calls' wait
  detail::Endpoint endpoint_;  // last: stopped (and its hooks run) before the rest goes
};

proto::Result<std::unique_ptr<Client>> Client::connect(ClientOptions options) {
  return detail::connect_over(std::move(options), nullptr);
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

CallResult Client::call(std::string_view method, ByteView params, CallOptions options) {
  return impl_->call(method, params, options);
}

std::future<CallResult> Client::call_async(std::string_view method, ByteView params,
                                           CallOptions options) {
  auto outcome = std::make_shared<std::promise<CallResult>>();
  std::future<CallResult> result = outcome->get_future();
  call_async(
      method, params, [outcome](CallResult r) { outcome->set_value(std::move(r)); }, options);
  return result;
}

CallId Client::call_async(std::string_view method, ByteView params, Callback done,
                          CallOptions options) {
  std::vector<std::byte> owned(params.begin(), params.end());
  return impl_->start_call(method, params, std::move(owned), std::move(done), options);
}

std::vector<CallResult> Client::call_many(std::string_view method, std::span<const ByteView> params,
                                          CallOptions options) {
  return impl_->call_many(method, params, options);
}

bool Client::cancel(CallId id) {
  return impl_->cancel(id);
}

bool Client::wait_for_workers(std::size_t count, std::chrono::milliseconds timeout) {
  return impl_->wait_for_workers(count, timeout);
}

std::size_t Client::worker_count() const {
  return impl_->worker_count();
}
std::size_t Client::in_flight() const {
  return impl_->in_flight();
}

int Client::poll_fd() const {
  return impl_->poll_fd();
}

void Client::process() {
  impl_->process();
}

bool Client::spin_for_answers(std::chrono::steady_clock::time_point until,
                              const std::function<bool()>& interrupted) {
  return impl_->spin_for_answers(until, interrupted);
}

void Client::end_spin() {
  impl_->end_spin();
}

std::chrono::steady_clock::time_point Client::next_wakeup() {
  return impl_->next_wakeup();
}

namespace detail {

void PathCounts::count(PayloadPath path) {
  switch (path) {
    case PayloadPath::inline_frame:
      ++inline_frames;
      break;
    case PayloadPath::segment_block:
      ++segment_blocks;
      break;
    case PayloadPath::oneoff_memfd:
      ++oneoff_memfds;
      break;
  }
}

class ClientAccess {
 public:
  static Client::Impl& impl(Client& client) { return *client.impl_; }
  static std::unique_ptr<Client> make(std::unique_ptr<Client::Impl> impl) {
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  }
};

proto::Result<std::unique_ptr<Client>> connect_over(ClientOptions options,
                                                    std::unique_ptr<platform::PollSet> poll_set) {
  if (options.discovery == DaemonDiscovery::automatic) {
    LocateOptions locate;
    locate.socket_path = options.socket_path;
    auto located = locate_daemon(locate);
    if (!located) return located.error();
    options.socket_path = std::move(located->socket_path);
  }
  auto impl = std::make_unique<Client::Impl>(std::move(options), std::move(poll_set));
  if (auto started = impl->start(); !started) return started.error();
  return ClientAccess::make(std::move(impl));
}

void set_attached_view(Client& client, shm::AttachedView view) {
  ClientAccess::impl(client).set_attached_view(view);
}

CallId start_call(Client& client, std::string_view method,
                  std::shared_ptr<const PayloadSource> payload, const CallOptions& options,
                  AnswerHandler done) {
  return ClientAccess::impl(client).start_source_call(method, std::move(payload), options,
                                                      std::move(done));
}

CallId start_many(Client& client, std::string_view method,
                  std::vector<std::shared_ptr<const PayloadSource>> payloads,
                  const CallOptions& options, BatchAnswerHandler done) {
  return ClientAccess::impl(client).start_source_batch(method, std::move(payloads), options,
                                                       std::move(done));
}

std::vector<WorkerInfo> workers(Client& client) {
  return ClientAccess::impl(client).workers();
}

Traffic traffic(Client& client) {
  return ClientAccess::impl(client).traffic();
}

}  // namespace detail

}  // namespace fastmd::ipc
