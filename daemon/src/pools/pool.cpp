// One worker pool at run time (see pool.hpp).
#include "pools/pool.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>

#include <spdlog/spdlog.h>

#include "fastmd/platform/unix_socket.hpp"
#include "status_fields.hpp"

namespace fastmd::daemon {

using Clock = std::chrono::steady_clock;

std::string_view pool_state_name(PoolState state) {
  switch (state) {
    case PoolState::ready:
      return "ready";
    case PoolState::starting:
      return "starting";
    case PoolState::draining:
      return "draining";
    case PoolState::crash_looping:
      return "crash-looping";
  }
  return "unknown";
}

std::string_view worker_state_name(WorkerState state) {
  switch (state) {
    case WorkerState::starting:
      return "starting";
    case WorkerState::ready:
      return "ready";
    case WorkerState::stopping:
      return "stopping";
  }
  return "unknown";
}

Pool::Pool(asio::io_context& io, Broker& broker, PoolSpec spec)
    : io_(io),
      broker_(broker),
      spec_(std::move(spec)),
      backoff_(spec_.backoff_first),
      restart_timer_(io),
      kill_timer_(io) {}

Pool::~Pool() {
  restart_timer_.cancel();
  kill_timer_.cancel();
  // Each WorkerProcess still running is killed and reaped by its destructor.
  for (auto& [pid, worker] : workers_) worker.process->signal(SIGKILL);
}

void Pool::start() {
  // A pool whose methods are not declared starts one worker to learn them from its hello, so
  // a client asking for one of them finds the pool.
  const std::uint32_t to_learn = spec_.methods.empty() ? 1 : 0;
  wanted_ = std::min(spec_.max, std::max(spec_.initial_workers(), to_learn));
  fill();
}

PoolState Pool::state() const {
  if (draining_) return PoolState::draining;
  if (crash_looping_) return PoolState::crash_looping;
  const bool any_ready = std::any_of(workers_.begin(), workers_.end(), [](const auto& each) {
    return each.second.state == WorkerState::ready;
  });
  return workers_.empty() || any_ready ? PoolState::ready : PoolState::starting;
}

std::size_t Pool::counted_workers() const {
  return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](auto& each) {
    return each.second.state != WorkerState::stopping;
  }));
}

bool Pool::request_worker() {
  if (draining_ || crash_looping_) return false;
  const bool one_starting = std::any_of(workers_.begin(), workers_.end(), [](const auto& each) {
    return each.second.state == WorkerState::starting;
  });
  demand_ = true;
  if (one_starting || restart_pending_) return true;
  if (counted_workers() >= spec_.max) return false;
  wanted_ = std::max<std::uint32_t>(wanted_, static_cast<std::uint32_t>(counted_workers()) + 1);
  fill();
  return true;
}

void Pool::update(PoolSpec spec) {
  const bool forgiven = crash_looping_ && !(spec == spec_);
  spec_ = std::move(spec);
  if (forgiven) {
    crash_looping_ = false;
    failures_.clear();
    backoff_ = spec_.backoff_first;
    spdlog::info("pool '{}': changed by SIGHUP; restarting it after its crash loop", spec_.name);
  }
  wanted_ = std::clamp(wanted_, std::max(spec_.initial_workers(), spec_.min), spec_.max);
  // Above the new maximum: stop the newest workers first.
  for (auto it = workers_.rbegin(); it != workers_.rend() && counted_workers() > spec_.max; ++it) {
    if (it->second.state != WorkerState::stopping) stop_worker(it->second);
  }
  fill();
}

void Pool::drain(std::chrono::milliseconds bound, std::function<void()> on_empty) {
  draining_ = true;
  restart_timer_.cancel();
  on_empty_ = std::move(on_empty);
  for (auto& [pid, worker] : workers_) {
    if (worker.state != WorkerState::stopping) stop_worker(worker);
  }
  if (workers_.empty()) {
    if (auto done = std::exchange(on_empty_, nullptr)) done();
    return;
  }
  kill_timer_.expires_after(bound + kExitGrace);
  kill_timer_.async_wait([this](asio::error_code error) {
    if (error) return;
    for (auto& [pid, worker] : workers_) {
      spdlog::warn("pool '{}': worker {} did not exit after SIGTERM; sending SIGKILL", spec_.name,
                   pid);
      worker.process->signal(SIGKILL);
    }
  });
}

// The worker is withdrawn first (no new introductions, its clients told), so calls go
// elsewhere while it answers those on its channels (PROTOCOL.md §3.11).
void Pool::stop_worker(Worker& worker) {
  worker.state = WorkerState::stopping;
  broker_.withdraw(worker.session);
  worker.process->signal(SIGTERM);
}

void Pool::refresh() {
  for (auto& [pid, worker] : workers_) {
    if (worker.state != WorkerState::starting) continue;
    auto it = broker_.sessions().find(worker.session);
    if (it == broker_.sessions().end() || it->second->state() != Session::State::established) {
      continue;
    }
    worker.state = WorkerState::ready;
    demand_ = false;
    backoff_ = spec_.backoff_first;  // a worker came up: the next restart is quick again
    if (spec_.methods.empty() && learned_methods_.empty()) {
      std::set<std::string> names;
      for (const auto& method : it->second->hello().methods) names.insert(method.name);
      learned_methods_.assign(names.begin(), names.end());
      spdlog::info("pool '{}': learned {} methods from worker {}", spec_.name,
                   learned_methods_.size(), pid);
    }
  }
}

const Session* Pool::session_of(const Worker& worker) const {
  auto it = broker_.sessions().find(worker.session);
  return it == broker_.sessions().end() ? nullptr : it->second.get();
}

void Pool::scale(std::chrono::steady_clock::time_point now) {
  if (draining_ || crash_looping_) return;
  pools::PoolView view;
  view.rules = {spec_.min, spec_.max, std::chrono::seconds(spec_.idle_stop_s), spec_.max_requests};
  view.demand = demand_;
  for (const auto& [pid, worker] : workers_) {
    pools::WorkerView seen;
    seen.id = worker.id;
    seen.phase = worker.state == WorkerState::starting ? pools::WorkerPhase::starting
                 : worker.state == WorkerState::ready  ? pools::WorkerPhase::ready
                                                       : pools::WorkerPhase::draining;
    seen.load_changed_at = worker.started;
    if (const Session* session = session_of(worker);
        session && session->state() == Session::State::established) {
      seen.concurrency = pools::worker_concurrency(session->hello().methods);
      seen.in_flight = session->load().last.in_flight;
      seen.served = session->load().last.served;
      seen.load_changed_at = session->load().changed_at;
      seen.load_known = session->hello().reports_load;
    }
    view.workers.push_back(seen);
  }
  const pools::ScalingDecision decision = policy_.decide(view, now);
  if (decision.empty()) return;
  spdlog::info("pool '{}': {}", spec_.name, decision.why);
  for (const std::vector<std::uint64_t>* ids : {&decision.stop, &decision.recycle}) {
    for (std::uint64_t id : *ids) {
      for (auto& [pid, worker] : workers_) {
        if (worker.id == id && worker.state != WorkerState::stopping) stop_worker(worker);
      }
    }
  }
  wanted_ = static_cast<std::uint32_t>(counted_workers()) + decision.start;
  fill();
}

void Pool::fill() {
  if (draining_ || crash_looping_ || restart_pending_) return;
  while (counted_workers() < wanted_) {
    if (!spawn_one()) return;
  }
}

bool Pool::spawn_one() {
  auto pair = platform::make_socketpair();
  if (!pair) {
    spdlog::error("pool '{}': cannot start a worker: {}", spec_.name, pair.error().to_string());
    schedule_restart();
    return false;
  }
  auto process =
      WorkerProcess::spawn(io_, spec_.command, spec_.name, std::move(pair->second),
                           [this](pid_t pid, int wait_status) { exited(pid, wait_status); });
  if (!process) {
    spdlog::error("pool '{}': cannot start a worker: {}", spec_.name, process.error().to_string());
    note_failure(127 << 8);  // as a shell reports a command it cannot run
    return false;
  }
  const pid_t pid = (*process)->pid();
  Worker worker;
  worker.id = next_worker_id_++;
  worker.process = std::move(*process);
  worker.started = Clock::now();
  // The daemon runs its workers as itself.
  worker.session = broker_.accept_spawned(std::move(pair->first),
                                          platform::PeerCredentials{pid, ::geteuid(), ::getegid()});
  workers_.emplace(pid, std::move(worker));
  spdlog::info("pool '{}': started worker {} ({})", spec_.name, pid, spec_.command.front());
  return true;
}

void Pool::exited(pid_t pid, int wait_status) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  const bool asked = it->second.state == WorkerState::stopping;
  // Destroying the process logs what is left in its pipes.
  workers_.erase(it);
  if (asked) {
    spdlog::info("pool '{}': worker {} stopped ({})", spec_.name, pid,
                 describe_wait_status(wait_status));
  } else {
    spdlog::warn("pool '{}': worker {} exited unexpectedly ({})", spec_.name, pid,
                 describe_wait_status(wait_status));
    last_exit_ = wait_status;
    note_failure(wait_status);
  }
  if (draining_ && workers_.empty()) {
    kill_timer_.cancel();
    if (auto done = std::exchange(on_empty_, nullptr)) done();
  }
}

void Pool::note_failure(int wait_status) {
  last_exit_ = wait_status;
  if (draining_) return;
  const auto now = Clock::now();
  failures_.push_back(now);
  std::erase_if(failures_, [&](auto at) { return now - at > spec_.crash_loop_within; });
  if (failures_.size() >= spec_.crash_loop_failures) {
    crash_looping_ = true;
    restart_timer_.cancel();
    restart_pending_ = false;
    spdlog::error(
        "pool '{}' is crash-looping: {} worker exits within {} s (last: {}); not restarting it "
        "until SIGHUP changes its config",
        spec_.name, failures_.size(), spec_.crash_loop_within.count(),
        describe_wait_status(wait_status));
    return;
  }
  schedule_restart();
}

void Pool::schedule_restart() {
  if (restart_pending_ || draining_ || crash_looping_) return;
  restart_pending_ = true;
  const std::chrono::milliseconds delay = backoff_;
  backoff_ = std::min(backoff_ * 2, spec_.backoff_max);
  restart_timer_.expires_after(delay);
  restart_timer_.async_wait([this](asio::error_code error) {
    if (error) return;
    restart_pending_ = false;
    const std::size_t before = counted_workers();
    fill();
    restarts_ += counted_workers() - before;
  });
}

void Pool::write_status(proto::Packer& p) const {
  using status_fields::write_str;
  using status_fields::write_uint;
  const auto now = Clock::now();
  p.pack_map(11);
  write_str(p, "name", spec_.name);
  write_str(p, "state", pool_state_name(state()));
  write_uint(p, "min", spec_.min);
  write_uint(p, "max", spec_.max);
  write_uint(p, "wanted", wanted_);
  write_uint(p, "restarts", restarts_);
  write_uint(p, "recent_failures", failures_.size());
  write_str(p, "last_exit", last_exit_ ? describe_wait_status(*last_exit_) : "");
  proto::pack_str(p, "methods");
  p.pack_array(static_cast<std::uint32_t>(methods().size()));
  for (const std::string& method : methods()) proto::pack_str(p, method);
  write_uint(p, "workers_total", workers_.size());
  proto::pack_str(p, "workers");
  const std::size_t listed = std::min(workers_.size(), kMaxListedWorkers);
  p.pack_array(static_cast<std::uint32_t>(listed));
  std::size_t written = 0;
  for (const auto& [pid, worker] : workers_) {
    if (written++ == listed) break;
    const Session* session = session_of(worker);
    // A worker whose hello did not say `reports_load` has no load to show: unknown, not zero.
    const bool load_unknown = session && session->state() == Session::State::established &&
                              !session->hello().reports_load;
    p.pack_map(load_unknown ? 4 : 6);
    write_uint(p, "pid", static_cast<std::uint64_t>(pid));
    write_str(p, "state", worker_state_name(worker.state));
    write_uint(p, "session", worker.session);
    if (!load_unknown) {
      write_uint(p, "in_flight", session ? session->load().last.in_flight : 0);
      write_uint(p, "served", session ? session->load().last.served : 0);
    }
    write_uint(
        p, "uptime_ms",
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - worker.started).count()));
  }
}

}  // namespace fastmd::daemon
