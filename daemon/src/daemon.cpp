// The daemon's event loop, signals and lifecycle (see daemon.hpp).
#include "daemon.hpp"

#include <unistd.h>

#include <csignal>
#include <sstream>

#include <spdlog/spdlog.h>

#include "fastmd/ipc/socket_path.hpp"
#include "status.hpp"

namespace fastmd::daemon {

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

Daemon::Daemon(Options options, std::vector<std::string> argv)
    : options_(std::move(options)),
      argv_(std::move(argv)),
      started_(std::chrono::steady_clock::now()),
      notifier_(io_),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      drain_timer_(io_),
      broker_(io_, options_.limits,
              AdmissionPolicy{::geteuid(), options_.allow_uids, options_.allow_gids},
              FASTMD_VERSION) {}

Daemon::~Daemon() {
  // Close every session and the listener, then let their aborted handlers run, so nothing
  // pending outlives the objects it points to. Pool workers still running are killed.
  broker_.set_worker_demand(nullptr);
  supervisor_.reset();
  broker_.close_all();
  listener_.reset();
  asio::error_code ignored;
  signals_.cancel(ignored);
  drain_timer_.cancel();
  io_.restart();
  io_.poll();  // only what is ready: a timer still armed must not keep the process waiting
}

proto::Status Daemon::start() {
  auto listener = Listener::socket_activated()
                      ? Listener::adopt_activated(io_)
                      : Listener::open_own(io_, ipc::resolve_socket_path(options_.socket_path));
  if (!listener) return listener.error();
  listener_ = std::move(*listener);

  // Under the instance lock now: objects a killed predecessor left in /dev/shm can go.
  if (auto removed = cleanup_stale_shm_objects(::geteuid()); !removed) {
    spdlog::warn("could not clean up stale shared memory: {}", removed.error().to_string());
  } else if (*removed > 0) {
    spdlog::info("removed {} shared-memory objects left by a daemon that is gone", *removed);
  }
  auto pools = Pools::create(options_.pool_options());
  if (!pools) return pools.error();
  pools_.emplace(std::move(*pools));
  broker_.set_pools(&*pools_);

  broker_.set_status_reporter([this] {
    DaemonFacts facts;
    facts.version = FASTMD_VERSION;
    facts.pid = ::getpid();
    facts.started = started_;
    facts.socket_path = listener_ ? listener_->path() : std::string{};
    facts.dropped_for_emfile = listener_ ? listener_->dropped_for_emfile() : 0;
    facts.write_pools = [this](proto::Packer& packer) { pools_->write_status(packer); };
    if (supervisor_) {
      facts.write_worker_pools = [this](proto::Packer& p) { supervisor_->write_status(p); };
    }
    return encode_status(broker_, facts);
  });
  listener_->start([this](platform::UniqueFd socket) { broker_.accept(std::move(socket)); });
  wait_for_signals();

  supervisor_ = std::make_unique<Supervisor>(io_, broker_,
                                             std::chrono::milliseconds(options_.drain_timeout_ms));
  broker_.set_worker_demand(supervisor_.get());
  broker_.set_drain_bound(std::chrono::milliseconds(options_.drain_timeout_ms));
  supervisor_->start(options_.worker_pools);
  if (options_.user_mode) {
    idle_exit_ = std::make_unique<IdleExit>(io_, broker_, *listener_,
                                            std::chrono::seconds(options_.idle_exit_s),
                                            [this] { shut_down("idle exit"); });
    idle_exit_->start();
  }

  const std::string where = listener_->activated() ? "socket from systemd " : "";
  const PoolStats pool = pools_->stats();
  spdlog::info("fastmd-ipcd {} listening on {}{} (pid {}); pool: {} segments of {} KiB ({})",
               FASTMD_VERSION, where, listener_->path(), ::getpid(), pool.segments,
               pool.segment_size / 1024, pool_backing_name(pool.backing));
  notifier_.ready("listening on " + listener_->path());
  return {};
}

int Daemon::run() {
  io_.run();
  spdlog::info("fastmd-ipcd stopped");
  return 0;
}

void Daemon::wait_for_signals() {
  signals_.async_wait([this](asio::error_code error, int signal) {
    if (error) return;
    if (signal == SIGHUP) {
      reload();
    } else {
      shut_down(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    wait_for_signals();
  });
}

void Daemon::reload() {
  notifier_.reloading();
  auto reloaded = reparse(argv_);
  if (!reloaded) {
    // One line per problem, each with its file:line, as --check-config prints them.
    std::istringstream problems(reloaded.error().message);
    for (std::string problem; std::getline(problems, problem);) {
      spdlog::error("SIGHUP: keeping the running configuration: {}", problem);
    }
  } else {
    options_.log_level = reloaded->log_level;
    options_.limits = reloaded->limits;
    options_.worker_pools = reloaded->worker_pools;
    set_log_level(options_.log_level);
    broker_.apply_limits(options_.limits);
    supervisor_->apply(options_.worker_pools);
    spdlog::info("SIGHUP: reloaded log level ({}) and limits", options_.log_level);
  }
  notifier_.ready("listening on " + listener_->path());
}

void Daemon::shut_down(const std::string& why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  spdlog::info("{}: draining {} sessions", why, broker_.sessions().size());
  notifier_.stopping("draining after " + why);
  listener_->close();
  drain_timer_.expires_after(std::chrono::milliseconds(options_.drain_timeout_ms));
  drain_timer_.async_wait([this](asio::error_code error) {
    if (error) return;
    spdlog::warn("drain timeout: closing {} sessions that did not flush",
                 broker_.sessions().size());
    broker_.close_all();  // the broker's drain completes with its last session
  });
  // Pool workers are withdrawn (their clients told, ipc.peer_draining, before ipc.shutdown)
  // and get SIGTERM: each answers every call on its channels within the drain bound, then
  // exits (PROTOCOL.md §3.11; SIGKILL a grace after the bound). Sessions drain (clients keep
  // their direct channels).
  shutdown_parts_left_ = 2;
  supervisor_->stop(std::chrono::milliseconds(options_.drain_timeout_ms),
                    [this] { shutdown_part_done(); });
  broker_.drain("the daemon received " + why, [this] { shutdown_part_done(); });
}

void Daemon::shutdown_part_done() {
  if (--shutdown_parts_left_ == 0) stop();
}

void Daemon::stop() {
  drain_timer_.cancel();
  broker_.close_all();
  asio::error_code ignored;
  signals_.cancel(ignored);
  io_.stop();
}

}  // namespace fastmd::daemon
