// fastmd::ipc::Worker (see fastmd/ipc/worker.hpp). Its threads share the endpoint's I/O
// loop as leader/followers: one thread at a time (the leader) runs a round of the loop, which
// reads requests as Tasks and queues them for the handlers, kArrivalsPerHandOff at a time and
// at the round's end (one lock per batch, not per request: docs/performance.md); then it runs
// the first task itself — no other thread, no second wake-up. There is one thread more than
// handlers may run at once, and a follower is woken to lead the next round only when it has
// something to do: a free handler slot to fill (so a slow handler never keeps other channels
// waiting beyond the concurrency) or queued tasks (so pipelined requests are read while
// handlers run, and an ipc.cancel reaches a queued task before it starts). A lone request on a
// one-handler worker is therefore read, run and answered by one thread with one wake-up. Tasks
// are taken one at a time and each result is written once (PayloadBuilder). Answers are
// batched, one write per channel, while more tasks are queued and the next one is known to be
// quick; a slow or unknown handler never holds earlier answers back. A request for an unknown
// method, a bad payload or a cancelled call is answered by the leader at once; a repeated
// request id (its channel is failed) and a request read past a drain's point of no return when
// the round's requests are queued. The worker's load (calls in flight, answered) goes to the
// daemon from the I/O loop's timer (load_reporter.hpp), when the daemon said it takes it
// (`accepts_load`).
//
// Stopping drains (PROTOCOL.md §3.11): the worker tells the daemon (ipc.draining), which stops
// introducing it and tells its clients (ipc.peer_draining), so they send it nothing new and
// close their channels once answered. Meanwhile it reads and runs everything on its channels
// as usual. Once every channel is closed and nothing is queued, or after the daemon's drain
// bound (`drain_ms`), it stops: handlers running finish, and queued or newly read requests
// are answered WORKER_STOPPING (not run; the client sends them elsewhere).
//
// A client that does not read its answers costs the worker a bounded amount (channel_limits.hpp):
// its channel is not read while kMaxUnansweredPerChannel of its requests are unanswered or
// kAnswerBacklogPauseBytes of answers wait for it, and is read again once half of that is gone
// (not at the first answer: a pipelining client would be paused every few answers). It is
// closed (with a logged reason) when that backlog stalls for kAnswerStallLimit or reaches
// kAnswerBacklogCloseBytes. A write that fails closes the channel too, so the client fails
// over instead of waiting.
//
// Result blocks are lent to the channel they are answered on (lent_blocks.hpp): when a
// channel ends and its client's process is gone, whatever it never released comes back at
// once, so a client killed while holding results does not leave the segment full for good.
#include "fastmd/ipc/worker.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "channel_limits.hpp"
#include "daemon_wait.hpp"
#include "endpoint.hpp"
#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/ipc/socket_path.hpp"
#include "fastmd/platform/wake_up.hpp"
#include "lent_blocks.hpp"
#include "load_reporter.hpp"

namespace fastmd::ipc {

using detail::Clock;
using detail::DirectChannel;
using proto::Errc;
using proto::Error;

namespace {

// Answers a handler thread holds back at most before writing them.
constexpr std::size_t kAnswersPerBatch = 64;
// Requests the leader reads before it hands them to the handlers' queue (it also hands them
// over at the end of each round). Their bounds are counted as each one is read.
constexpr std::size_t kArrivalsPerHandOff = 32;
// Answers wait for the next task only when its method usually takes less than this.
constexpr std::chrono::nanoseconds kQuickHandler = std::chrono::microseconds(50);
// When nobody leads (a follower is still on its way), a thread about to take a queued task
// reads the channels first, without waiting, once this long has passed since the last round:
// an ipc.cancel for a queued task must arrive before the task starts.
constexpr std::chrono::nanoseconds kReadAtLeastEvery = kQuickHandler;

// The params of ipc.draining: an empty map.
const proto::ByteBuffer kEmptyMap{std::byte{0x80}};

// Whether a channel's requests may be read: what its client has the worker hold is below
// each bound (channel_limits.hpp), or below half of it to take a paused channel up again.
// Resuming at half, not at the first answer, pays a resume (a wake-up and two epoll_ctl
// calls) once per many answers: a pipelining client paid it every few. (A shift, not a
// division by a share: this runs for every request read.)
bool within_bounds(const DirectChannel& channel, bool to_resume) {
  const unsigned halve = to_resume ? 1 : 0;
  return channel.unanswered.load(std::memory_order_relaxed) <
             (detail::kMaxUnansweredPerChannel >> halve) &&
         channel.unanswered_with_fds.load(std::memory_order_relaxed) <
             (detail::kMaxUnansweredWithFdsPerChannel >> halve) &&
         channel.unanswered_bytes.load(std::memory_order_relaxed) <
             (detail::kMaxUnansweredBytesPerChannel >> halve) &&
         channel.socket().backlog_bytes() < (detail::kAnswerBacklogPauseBytes >> halve);
}

// After an answer was settled or written: takes up a paused channel that has room again.
void resume_if_room(detail::Endpoint& endpoint, const std::shared_ptr<DirectChannel>& channel) {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Endpoint::input_open's
  if (channel->watch.paused.load(std::memory_order_relaxed) &&
      within_bounds(*channel, /*to_resume=*/true)) {
    endpoint.resume_input(channel);
  }
}

// After a write to `channel`: a failed one, or a backlog past the bound, ends the channel.
void check_sent(detail::Endpoint& endpoint, const std::shared_ptr<DirectChannel>& channel,
                const proto::Status& sent) {
  if (!sent) return endpoint.fail_channel(channel, sent.error());
  const std::size_t backlog = channel->socket().backlog_bytes();
  if (backlog >= detail::kAnswerBacklogCloseBytes) {
    endpoint.fail_channel(
        channel, Error{Errc::quota_exceeded, "the peer does not read: " + std::to_string(backlog) +
                                                 " bytes of answers wait for it, the bound is " +
                                                 std::to_string(detail::kAnswerBacklogCloseBytes)});
  }
}

// Answers written by one handler thread and not yet sent, per channel. The channels are held
// weakly: a thread that sleeps between batches must not keep a closed channel (its socket and
// the memfds queued on it) alive.
class AnswerBatch {
 public:
  explicit AnswerBatch(detail::Endpoint& endpoint) : endpoint_(endpoint) {}

  proto::ByteBuffer& frames_for(const std::shared_ptr<DirectChannel>& channel) {
    ++count_;
    for (auto& [known, frames] : pending_) {
      if (!known.owner_before(channel) && !channel.owner_before(known)) return frames;
    }
    return pending_.emplace_back(channel, proto::ByteBuffer{}).second;
  }
  std::size_t count() const { return count_; }

  /// One write per channel; channels that ended are forgotten.
  void send() {
    for (auto& [known, frames] : pending_) {
      const std::shared_ptr<DirectChannel> channel = known.lock();
      if (channel && !frames.empty()) {
        check_sent(endpoint_, channel, channel->socket().send_encoded(frames));
        // This write may have drained the backlog that paused the channel's input: only the
        // I/O thread's own flushes look again otherwise.
        resume_if_room(endpoint_, channel);
      }
      frames.clear();
    }
    std::erase_if(pending_, [](const auto& entry) {
      const std::shared_ptr<DirectChannel> channel = entry.first.lock();
      return !channel || channel->socket().is_shut_down();
    });
    count_ = 0;
  }

 private:
  detail::Endpoint& endpoint_;
  std::vector<std::pair<std::weak_ptr<DirectChannel>, proto::ByteBuffer>> pending_;
  std::size_t count_ = 0;
};

// How long a method's handler usually takes: an exponential moving average, shared by the
// handler threads. A method not yet timed counts as slow.
class MethodTiming {
 public:
  bool is_quick() const {
    const auto average = average_ns_.load(std::memory_order_relaxed);
    return average != kUnknown && std::chrono::nanoseconds(average) < kQuickHandler;
  }
  void record(std::chrono::nanoseconds took) {
    const auto average = average_ns_.load(std::memory_order_relaxed);
    const auto sample = static_cast<std::uint64_t>(took.count());
    average_ns_.store(average == kUnknown ? sample : (average * 7 + sample) / 8,
                      std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint64_t kUnknown = ~std::uint64_t{0};
  std::atomic<std::uint64_t> average_ns_{kUnknown};
};

// A method this worker serves: its name and handler, and how long its calls take. Made once
// at start; a task points to its method (no copy of the name per request).
struct ServedMethod {
  std::string name;
  const MethodTable::Entry* entry = nullptr;
  MethodTiming timing;
};

struct Task {
  std::shared_ptr<DirectChannel> channel;
  std::uint64_t id = 0;
  ServedMethod* method = nullptr;
  ByteView params;
  std::vector<std::byte> inline_params;  // a copy of inline params (the frame buffer moves on)
  std::unique_ptr<Reply::Hold> hold;     // keeps shared-memory params until the task is done
  bool came_with_fd = false;             // its params are a mapped one-off memfd
};

class BuilderWriter final : public ResultWriter {
 public:
  explicit BuilderWriter(detail::PayloadBuilder& builder) : builder_(builder) {}
  void append(ByteView bytes) override { builder_.append(bytes); }
  void reserve(std::size_t total_bytes) override { builder_.reserve(total_bytes); }
  using ResultWriter::append;

 private:
  detail::PayloadBuilder& builder_;
};

}  // namespace

class Worker::Impl final : public detail::EndpointHooks {
 public:
  Impl(MethodTable methods, WorkerOptions options)
      : methods_(std::move(methods)),
        options_(std::move(options)),
        stop_(open_stop()),
        endpoint_(endpoint_options(methods_, options_), *this) {
    for (const auto& spec : methods_.specs()) {
      ServedMethod& served = served_[spec.name];
      served.name = spec.name;
      served.entry = methods_.find(spec.name);
    }
  }

  ~Impl() override { stop(); }

  proto::Status start() {
    if (methods_.empty()) {
      return Error{Errc::invalid_field, "a worker must serve at least one method"};
    }
    if (started_) return Error{Errc::unexpected_message, "the worker is already running"};
    const detail::EndpointOptions endpoint = endpoint_options(methods_, options_);
    const detail::DaemonWait wait{endpoint.socket_path, options_.wait_for_daemon,
                                  endpoint.reconnect_min, endpoint.reconnect_max, stop_.fd()};
    if (auto connected = detail::connect_waiting([this] { return endpoint_.connect(); }, wait);
        !connected) {
      endpoint_.stop();
      return connected.error();
    }
    started_ = true;
    // One thread more than handler slots: it reads while every slot is busy.
    for (unsigned i = 0; i < handler_slots() + 1; ++i) {
      threads_.emplace_back([this] { serve(); });
    }
    return {};
  }

  proto::Status run() {
    if (auto started = start(); !started) {
      // Stopped while waiting for the daemon: it served until stopped, as asked.
      if (started.error().code == Errc::cancelled) return {};
      return started;
    }
    // Without a stop wake-up (out of fds) nothing could end the wait: stop at once instead.
    pollfd stop_asked{stop_.fd(), POLLIN, 0};
    while (stop_ && ::poll(&stop_asked, 1, -1) < 0 && errno == EINTR) {
    }
    stop_.drain();  // taken: the worker may run again
    stop();
    return {};
  }

  void request_stop() { stop_.notify(); }

  void stop() {
    if (!started_) return;
    drain();
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    endpoint_.request_stop();  // the leader's round returns
    work_changed_.notify_all();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    // Every request read was answered: drain() saw none queued or running, and the leader
    // answered what it read after that (not run, lead_round) before it was joined. Now the
    // channels close.
    endpoint_.stop();
    std::lock_guard lock(mutex_);
    stopping_ = false;
    draining_ = false;
    refusing_ = false;
    started_ = false;
  }

  // Answers every request on the channels before the worker stops (see the top of this file).
  void drain() {
    std::unique_lock lock(mutex_);
    draining_ = true;
    announce_draining_.store(true, std::memory_order_relaxed);
    const auto deadline = Clock::now() + drain_bound_;
    lock.unlock();
    endpoint_.wake();  // the leader's timer tells the daemon
    lock.lock();
    drained_.wait_until(lock, deadline, [&] { return open_channels_ == 0 && idle_locked(); });
    refusing_ = true;  // the point of no return
    work_changed_.notify_all();
    drained_.wait(lock, [&] { return idle_locked(); });
  }

  std::uint64_t answered() const { return answered_.load(std::memory_order_relaxed); }

  std::optional<shm::WriterStats> segment_stats() const {
    std::shared_ptr<detail::OwnSegment> segment;
    {
      std::lock_guard lock(mutex_);
      segment = current_segment_;
    }
    if (!segment) return std::nullopt;
    return segment->writer->stats();
  }

  bool idle_locked() const { return tasks_.empty() && running_ == 0; }

  // --- EndpointHooks, on the leader ---

  void on_session(const proto::HelloReply& reply, platform::UniqueFd segment_fd) override {
    own_segment_ = detail::open_own_segment(std::move(segment_fd), reply.segment,
                                            [this] { lent_blocks_.take_back_from_exited(); });
    load_reporter_.restart();  // a new daemon knows nothing of this worker's load yet
    daemon_accepts_load_ = reply.accepts_load;
    daemon_takes_draining_ = reply.drain_ms.has_value();
    std::lock_guard lock(mutex_);
    current_segment_ = own_segment_;
    // The bound is the daemon's (its --drain-timeout-ms). An older daemon tells none and takes
    // no ipc.draining: its clients cannot be told, so the worker keeps nobody waiting.
    drain_bound_ = std::chrono::milliseconds(reply.drain_ms.value_or(0));
    // A new daemon learns of a drain under way too.
    if (draining_) announce_draining_.store(true, std::memory_order_relaxed);
  }

  // The load report (ipc.load) and the drain announcement ride on the I/O loop's timer, off
  // the data path.
  // So does the check for blocks lent to clients that have exited since their channels ended.
  Clock::time_point next_timer() override {
    if (announce_draining_.load(std::memory_order_relaxed)) return Clock::now();
    const Clock::time_point lent_check = lent_blocks_.next_check();
    if (!daemon_accepts_load_) return lent_check;
    return std::min(lent_check, load_reporter_.next_check(Clock::now(), in_flight(), answered()));
  }

  void on_timer(Clock::time_point now) override {
    lent_blocks_.check(now);
    if (announce_draining_.exchange(false, std::memory_order_relaxed) && daemon_takes_draining_) {
      endpoint_.notify_daemon(proto::kDraining, kEmptyMap);
    }
    if (!daemon_accepts_load_) return;
    const auto report = load_reporter_.due(now, in_flight(), answered());
    if (!report) return;
    const bool delivered = endpoint_.notify_daemon(proto::kLoad, proto::encode_body(*report));
    load_reporter_.attempted(*report, now, delivered);
  }

  // A worker whose daemon started it ends with the control connection it was handed: that
  // daemon is gone, and the next one starts its own workers (inherited_control.hpp).
  void on_daemon_lost(const proto::Error&) override {
    if (!endpoint_.reconnects()) request_stop();
  }

  void on_channel(const std::shared_ptr<DirectChannel>& channel) override {
    {
      std::lock_guard lock(mutex_);
      ++open_channels_;
    }
    channel->own_segment = own_segment_;
    lent_blocks_.opened(channel.get(), channel->peer(), channel->own_segment);
    auto peer_segment =
        detail::open_peer_segment(channel->take_peer_segment_fd(), channel->peer().segment);
    if (peer_segment) channel->peer_segment = std::move(*peer_segment);
  }

  void on_message(const std::shared_ptr<DirectChannel>& channel,
                  detail::Inbound& inbound) override {
    const proto::Message& m = inbound.message;
    if (m.is_notification()) {
      if (m.method == proto::kCancel) {
        auto cancel = proto::decode_body<proto::Cancel>(cancel_decoder_, m.payload);
        if (cancel) cancel_queued(channel, cancel->id);
      }
      return;
    }
    if (!m.is_request()) return;
    const auto served = served_.find(m.method);
    if (served == served_.end()) {
      return answer_error(channel, m.id,
                          Error{Errc::method_not_found,
                                proto::method_not_found_message(m.method, methods_.names())});
    }
    auto payload = detail::take_payload(m, inbound.fds, channel->peer_segment.get());
    if (!payload) return answer_error(channel, m.id, payload.error());

    Task task{channel, m.id, &served->second, {}, {}, std::move(payload->hold), m.fds > 0};
    if (task.hold) {
      task.params = payload->bytes;
    } else {
      task.inline_params.assign(payload->bytes.begin(), payload->bytes.end());
      task.params = task.inline_params;
    }
    // Counted at once, so the channel's bounds (accepts_input) hold for every frame; queued
    // for the handlers in batches, so the mutex they share is taken once per batch.
    channel->unanswered.fetch_add(1, std::memory_order_relaxed);
    if (task.came_with_fd) channel->unanswered_with_fds.fetch_add(1, std::memory_order_relaxed);
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    channel->unanswered_bytes.fetch_add(task.inline_params.size(), std::memory_order_relaxed);
    arrived_.push_back(std::move(task));
    if (arrived_.size() >= kArrivalsPerHandOff) hand_off_arrived();
  }

  bool accepts_input(const DirectChannel& channel) override {
    return within_bounds(channel,
                         /*to_resume=*/channel.watch.paused.load(std::memory_order_relaxed));
  }

  void on_channel_closed(const std::shared_ptr<DirectChannel>& channel, const Error& why) override {
    // An ordinary end (the client left, or this worker stops) is no news; anything else is
    // a broken or hostile client, worth a line in the log.
    if (why.code != Errc::peer_gone && why.code != Errc::cancelled) {
      spdlog::warn("worker '{}' closed its channel to client '{}' (pid {}): {}", options_.name,
                   channel->peer().name, channel->peer().pid, why.to_string());
    }
    // What its client never released comes back now if its process is gone.
    lent_blocks_.closed(channel.get());
    // Its client re-sends or fails what it had in flight: drop the queued work.
    const auto of_channel = [&](const Task& task) { return task.channel == channel; };
    std::lock_guard lock(mutex_);
    const auto dropped = std::erase_if(tasks_, of_channel) + std::erase_if(arrived_, of_channel);
    in_flight_.fetch_sub(dropped, std::memory_order_relaxed);
    --open_channels_;
    if (draining_) drained_.notify_all();
  }

 private:
  // An empty wake-up when none can be opened (out of fds): run() then stops at once.
  static platform::WakeUp open_stop() {
    auto opened = platform::WakeUp::open();
    return opened ? std::move(*opened) : platform::WakeUp{};
  }

  static detail::EndpointOptions endpoint_options(const MethodTable& methods,
                                                  const WorkerOptions& options) {
    detail::EndpointOptions out;
    out.socket_path = resolve_socket_path(options.socket_path);
    out.hello.role = proto::Role::worker;
    out.hello.pid = static_cast<std::uint32_t>(::getpid());
    out.hello.name = options.name;
    out.hello.methods = methods.specs();
    out.hello_timeout = options.connect_timeout;
    out.reconnect_max = options.reconnect_max;
    out.spin_budget = options.spin_budget;
    out.backlog_stall_limit = detail::kAnswerStallLimit;
    out.hello.reports_load = true;
    offer_rings(out, options.ring_bytes);
    return out;
  }

  static Error not_run(const std::string& method) {
    return Error{policy::kNotRunAnswer,
                 "the worker is stopping and did not run '" + method + "'; send it elsewhere"};
  }

  void answer_error(const std::shared_ptr<DirectChannel>& channel, std::uint64_t id,
                    const Error& error) {
    check_sent(endpoint_, channel,
               channel->socket().send(proto::Message::failure(id, error.code, error.message)));
    answered_.fetch_add(1, std::memory_order_relaxed);
  }

  void forget_id_locked(const Task& task) { task.channel->request_ids.remove(task.id); }

  // Requests read in this round that the handlers' queue did not take.
  struct NotQueued {
    std::vector<Task> repeated_ids;  // their channel is failed
    std::vector<Task> refused;       // read past the point of no return: answered, not run
  };

  // Hands the requests read so far in this round to the handlers' queue (the leader only).
  void hand_off_arrived() {
    std::unique_lock lock(mutex_);
    NotQueued left = queue_arrived_locked();
    lock.unlock();
    answer_not_queued(left);
  }

  NotQueued queue_arrived_locked() {
    NotQueued left;
    for (Task& task : arrived_) {
      if (!task.channel->request_ids.add(task.id)) {
        left.repeated_ids.push_back(std::move(task));
      } else if (refusing_) {
        forget_id_locked(task);
        left.refused.push_back(std::move(task));
      } else {
        tasks_.push_back(std::move(task));
      }
    }
    arrived_.clear();
    return left;
  }

  void answer_not_queued(NotQueued& left) {
    for (Task& task : left.repeated_ids) {
      // Answers could not be told apart: a peer that does this is broken or hostile.
      endpoint_.fail_channel(
          task.channel, Error{Errc::invalid_field, "request id " + std::to_string(task.id) +
                                                       " is already in flight on this channel"});
      settle(task);
    }
    for (Task& task : left.refused) {
      answer_error(task.channel, task.id, not_run(task.method->name));
      settle(task);
    }
  }

  // A read request was answered: its channel may be read again.
  void settle(const Task& task) {
    const std::shared_ptr<DirectChannel>& channel = task.channel;
    channel->unanswered.fetch_sub(1, std::memory_order_relaxed);
    if (task.came_with_fd) channel->unanswered_with_fds.fetch_sub(1, std::memory_order_relaxed);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    channel->unanswered_bytes.fetch_sub(task.inline_params.size(), std::memory_order_relaxed);
    resume_if_room(endpoint_, channel);
  }

  void cancel_queued(const std::shared_ptr<DirectChannel>& channel, std::uint64_t id) {
    if (!arrived_.empty()) hand_off_arrived();  // a request read in this round, before its cancel
    std::optional<Task> cancelled;
    {
      std::lock_guard lock(mutex_);
      auto it = std::find_if(tasks_.begin(), tasks_.end(), [&](const Task& task) {
        return task.id == id && task.channel == channel;
      });
      if (it == tasks_.end()) return;  // running or done: answered as usual
      cancelled.emplace(std::move(*it));
      tasks_.erase(it);
      forget_id_locked(*cancelled);
      if (draining_) drained_.notify_all();
    }
    answer_error(channel, id,
                 Error{Errc::cancelled,
                       "call '" + cancelled->method->name + "' was cancelled before it started"});
    settle(*cancelled);
  }

  // A thread of the pool: runs a queued task when a handler slot is free, else leads a round
  // of the I/O loop when nobody does, and sleeps only when there is nothing for it.
  void serve() {
    AnswerBatch answers(endpoint_);
    proto::ByteBuffer inline_result;  // reused by each result this thread writes inline
    // The time this thread's last task ended, while it only ran tasks and sent their answers
    // since: the next task's checks and start use it instead of reading the clock again (3
    // reads per task were 9% of a worker's CPU in pipelined 64 B calls, perf).
    // Clock::time_point::min() when unknown; every turn of the loop but a task's forgets it.
    Clock::time_point just_now = Clock::time_point::min();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      const Clock::time_point last_task_end = std::exchange(just_now, Clock::time_point::min());
      const bool can_run = !tasks_.empty() && running_ < handler_slots();
      if (refusing_ && !tasks_.empty()) {
        // Past the point of no return: what is still queued is answered, not run.
        Task task = std::move(tasks_.front());
        tasks_.pop_front();
        forget_id_locked(task);
        lock.unlock();
        answer_error(task.channel, task.id, not_run(task.method->name));
        settle(task);
        lock.lock();
        drained_.notify_all();
      } else if (can_run && (leading_ || !round_due(now_or(last_task_end)))) {
        Task task = std::move(tasks_.front());
        tasks_.pop_front();
        const bool more_queued = !tasks_.empty();
        ++running_;
        wake_follower_if_needed();
        lock.unlock();
        just_now = run_and_answer(task, more_queued, answers, inline_result, last_task_end);
        lock.lock();
        forget_id_locked(task);
        --running_;
        if (draining_) drained_.notify_all();
      } else if (answers.count() > 0) {
        lock.unlock();
        answers.send();  // nothing this thread may run now: held answers go
        lock.lock();
      } else if (!leading_) {
        lead_round(lock, /*may_block=*/!can_run);
      } else {
        ++idle_threads_;
        work_changed_.wait(lock);
        --idle_threads_;
      }
    }
    lock.unlock();
    answers.send();  // the channels close only after every thread is done (stop())
  }

  unsigned handler_slots() const { return std::max(1u, options_.threads); }

  // Calls taken and not yet answered (queued or running), as ipc.load reports them.
  std::uint32_t in_flight() const {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(
        in_flight_.load(std::memory_order_relaxed), std::numeric_limits<std::uint32_t>::max()));
  }

  // `known` if it is a time, else the clock's reading.
  static Clock::time_point now_or(Clock::time_point known) {
    return known != Clock::time_point::min() ? known : Clock::now();
  }

  bool round_due(Clock::time_point now) const { return now - last_round_ >= kReadAtLeastEvery; }

  void lead_round(std::unique_lock<std::mutex>& lock, bool may_block) {
    leading_ = true;
    lock.unlock();
    endpoint_.run_round(may_block);
    lock.lock();
    NotQueued left = queue_arrived_locked();  // the rest of this round's requests
    leading_ = false;
    last_round_ = Clock::now();
    if (!left.repeated_ids.empty() || !left.refused.empty()) {
      lock.unlock();
      answer_not_queued(left);
      lock.lock();
    }
  }

  // Called by a thread that takes a task: an idle thread is woken only when there is work for
  // it — leading, while a handler slot is free or tasks wait; or running a waiting task. So a
  // lone request on a one-handler worker wakes nobody.
  void wake_follower_if_needed() {
    if (idle_threads_ == 0) return;
    const bool slot_free = running_ < handler_slots();
    const bool tasks_wait = !tasks_.empty();
    if ((!leading_ && (slot_free || tasks_wait)) || (tasks_wait && slot_free)) {
      work_changed_.notify_one();
    }
  }

  // Runs `task` and holds or sends its answer. `just_now`: when the thread's previous task
  // ended, if it went on to this one (else min()) (then it is this one's start, so the answers sent
  // in between count as this handler's time: a write to the ring, short against kQuickHandler).
  // Returns when this one ended.
  Clock::time_point run_and_answer(Task& task, bool more_queued, AnswerBatch& answers,
                                   proto::ByteBuffer& inline_result, Clock::time_point just_now) {
    MethodTiming& timing = task.method->timing;
    if (answers.count() > 0 && !timing.is_quick()) answers.send();
    const auto started = now_or(just_now);
    run_task(task, answers.frames_for(task.channel), inline_result);
    const auto ended = Clock::now();
    timing.record(ended - started);
    answered_.fetch_add(1, std::memory_order_relaxed);
    settle(task);
    if (!more_queued || answers.count() >= kAnswersPerBatch) answers.send();
    return ended;
  }

  // Runs one handler and appends its answer to `frames`, or sends it alone when it carries
  // a memfd.
  void run_task(Task& task, proto::ByteBuffer& frames, proto::ByteBuffer& inline_result) {
    DirectChannel& channel = *task.channel;
    const detail::PayloadPolicy policy{options_.inline_threshold, channel.peer().max_frame,
                                       options_.shm_wait};
    detail::PayloadBuilder builder(policy, channel.own_segment.get(), inline_result);
    std::optional<Error> failure;
    try {
      BuilderWriter writer(builder);
      task.method->entry->handler(task.params, writer);
    } catch (const CallError& e) {
      failure.emplace(e.code(), e.what());
    } catch (const std::exception& e) {
      failure.emplace(Errc::handler_failed,
                      "handler of '" + task.method->name + "' threw: " + e.what());
    } catch (...) {
      failure.emplace(Errc::handler_failed,
                      "handler of '" + task.method->name + "' threw a non-standard exception");
    }
    task.hold.reset();  // the params are released as soon as the handler is done
    detail::Outgoing out;
    out.message = proto::Message::response(task.id);
    if (!failure) {
      if (auto placed = builder.finish(out); !placed) failure = placed.error();
    }
    if (failure) {
      proto::append_frame(proto::Message::failure(task.id, failure->code, failure->message),
                          frames);
      return;
    }
    if (out.placed_in && out.message.shm &&
        !lent_blocks_.lend(task.channel.get(), *out.placed_in, *out.message.shm)) {
      return;  // the channel ended while the handler ran: its block is back already
    }
    if (out.attached) {
      check_sent(endpoint_, task.channel, out.send_on(channel.socket()));
      return;
    }
    proto::append_frame(out.message, frames);
  }

  MethodTable methods_;
  WorkerOptions options_;
  platform::WakeUp stop_;  // notified by request_stop(), drained once run() took it
  proto::Decoder cancel_decoder_;
  std::shared_ptr<detail::OwnSegment> own_segment_;  // I/O thread only
  // One per method, made up front: the map never changes, the timings are atomic.
  std::map<std::string, ServedMethod, std::less<>> served_;

  detail::LentBlocks lent_blocks_{[](std::size_t blocks, const std::string& peer) {
    spdlog::info("took back {} shared-memory blocks lent to {}, whose process is gone", blocks,
                 peer);
  }};

  mutable std::mutex mutex_;
  std::shared_ptr<detail::OwnSegment> current_segment_;  // own_segment_, for segment_stats()
  std::condition_variable work_changed_;                 // tasks queued, or the lead is free
  std::condition_variable drained_;  // while draining: a task or a channel ended
  std::deque<Task> tasks_;
  // Read by the leader and not yet in tasks_ (hand_off_arrived). Only the thread running the
  // I/O round touches it (the Worker lends no channel: Endpoint's on_message on a borrowing
  // thread never happens here); mutex_ does not guard it.
  std::vector<Task> arrived_;
  bool leading_ = false;  // a thread is running a round of the I/O loop
  unsigned running_ = 0;  // handlers running now, at most handler_slots()
  unsigned idle_threads_ = 0;
  Clock::time_point last_round_;  // when the last round ended
  bool stopping_ = false;
  bool draining_ = false;  // stop() began: the daemon is told, the channels are answered
  bool refusing_ = false;  // past the point of no return: requests are answered, not run
  std::size_t open_channels_ = 0;
  std::chrono::milliseconds drain_bound_{0};    // the daemon's drain_ms
  std::atomic<bool> announce_draining_{false};  // ipc.draining is due on the leader's timer
  bool daemon_accepts_load_ = false;            // the thread running the I/O round
  bool daemon_takes_draining_ = false;          // the thread running the I/O round
  std::vector<std::thread> threads_;
  bool started_ = false;
  std::atomic<std::uint64_t> answered_{0};
  std::atomic<std::uint64_t> in_flight_{0};  // tasks queued or running
  detail::LoadReporter load_reporter_;       // the thread running the I/O round
  detail::Endpoint endpoint_;                // last: stopped before the rest goes
};

Worker::Worker(MethodTable methods, WorkerOptions options)
    : impl_(std::make_unique<Impl>(std::move(methods), std::move(options))) {}
Worker::~Worker() = default;

proto::Status Worker::start() {
  return impl_->start();
}
proto::Status Worker::run() {
  return impl_->run();
}
void Worker::request_stop() {
  impl_->request_stop();
}
void Worker::stop() {
  impl_->stop();
}
std::uint64_t Worker::answered() const {
  return impl_->answered();
}
std::optional<shm::WriterStats> Worker::segment_stats() const {
  return impl_->segment_stats();
}

}  // namespace fastmd::ipc
