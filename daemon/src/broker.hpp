// broker.hpp — where sessions are brokered: the registry of live sessions and the methods
// their workers serve. The broker admits each hello (credentials, quotas), introduces every
// client to every live worker serving a method it wants by handing each side one end of a
// fresh socketpair (ipc.introduce), introduces late workers to waiting clients, tells clients
// when nobody serves a method (ipc.no_worker, with a bounded wait), answers a client's ipc.want
// (introduced, NO_WORKER after the wait, or METHOD_NOT_FOUND at once when neither a live worker
// nor a pool serves the method), and announces a peer's end to everyone it was introduced to
// (ipc.peer_gone).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "admission.hpp"
#include "config.hpp"
#include "quotas.hpp"
#include "session.hpp"
#include "worker_demand.hpp"

namespace fastmd::daemon {

/// Event counters since start, reported by ipc.status.
struct Counters {
  std::uint64_t accepted = 0;
  std::uint64_t handshakes = 0;
  std::uint64_t refused = 0;
  std::uint64_t introductions = 0;
  std::uint64_t introductions_over_quota = 0;
  std::uint64_t no_worker = 0;
  std::uint64_t peers_gone = 0;
  std::uint64_t disconnects_normal = 0;
  std::uint64_t disconnects_hostile = 0;
  std::uint64_t disconnects_slow = 0;
};

class Broker final : public SessionHost {
 public:
  /// Encodes the ipc.status result (see status.hpp); the daemon supplies it.
  using StatusReporter = std::function<proto::ByteBuffer()>;

  Broker(asio::io_context& io, const Limits& limits, AdmissionPolicy policy,
         std::string daemon_version);
  ~Broker() override;

  void set_status_reporter(StatusReporter reporter) { status_reporter_ = std::move(reporter); }
  /// The pools sessions lease their segments from (none: peers go without segments).
  void set_pools(Pools* pools) { pools_ = pools; }
  /// Who starts pool workers for a wanted method (none: only live workers serve, and a method
  /// none of them serves is METHOD_NOT_FOUND). Must outlive the broker or be reset first.
  void set_worker_demand(WorkerDemand* demand) { demand_ = demand; }

  /// Starts a session for a freshly accepted connection.
  void accept(platform::UniqueFd socket);

  /// Starts a session on the daemon's end of a socketpair whose other end a worker the daemon
  /// spawned holds: `peer` is that worker (SO_PEERCRED of a socketpair names its creator, the
  /// daemon). The session is marked spawned (Session::spawned). Returns the session's id.
  std::uint64_t accept_spawned(platform::UniqueFd socket, const platform::PeerCredentials& peer);

  /// Applies reloaded limits to new and running sessions.
  void apply_limits(const Limits& limits);

  /// Refuses new handshakes, sends ipc.shutdown to every session and ends each once its queue
  /// is flushed; `on_empty` runs when the last session has ended (at once if none is left).
  void drain(const std::string& reason, std::function<void()> on_empty);

  /// The daemon's drain bound, told to every peer in its hello reply (`drain_ms`): how long a
  /// stopping worker keeps answering the calls on its channels.
  void set_drain_bound(std::chrono::milliseconds bound) { drain_bound_ = bound; }

  /// A worker is stopping (its pool stops it, or it said ipc.draining): it is introduced to
  /// nobody any more, and every client it was introduced to gets ipc.peer_draining, so new
  /// calls go elsewhere while it answers those it has. No-op for an unknown session.
  void withdraw(std::uint64_t session);

  /// Ends every session now (after the drain timeout).
  void close_all();

  const std::map<std::uint64_t, std::shared_ptr<Session>>& sessions() const { return sessions_; }
  const Counters& counters() const { return counters_; }
  const Quotas& quotas() const { return quotas_; }
  const Limits& limits() const { return limits_; }

  // SessionHost
  void hello(Session& session, std::uint64_t request_id, proto::Hello hello) override;
  void status(Session& session, std::uint64_t request_id) override;
  void want(Session& session, std::uint64_t request_id, proto::Want want) override;
  void draining(Session& session) override;
  void closed(Session& session, EndKind kind, const std::string& reason) override;

 private:
  SessionLimits session_limits() const;
  std::uint64_t start_session(platform::UniqueFd socket, const platform::PeerCredentials& peer,
                              bool spawned);
  /// Whether a worker `client` has been introduced to serves `method`.
  bool serves(const Session& client, const std::string& method) const;
  /// Introduction quotas: a skipped pair is introduced once one side has a slot to spare.
  void introduce(Session& client, Session& worker);
  void introduce_to_freed(Session& freed);
  void announce_unserved(Session& client);
  void end_wait(std::uint64_t session, const std::string& method);
  void cancel_waits_served_by(const Session& worker);
  void cancel_waits_of(std::uint64_t session);
  /// Whether `client` wants what `worker` serves: by its hello's wants or a waiting ipc.want.
  bool wants_any_of(const Session& client, const Session& worker) const;
  /// Methods served now or on demand: live workers' and pools' (for METHOD_NOT_FOUND).
  std::vector<std::string> served_methods() const;
  std::size_t wants_waiting(std::uint64_t session) const;
  /// Answers the waiting ipc.want requests of `client` that `worker` serves (just introduced).
  void grant_wants(Session& client, const Session& worker);
  void settle_wants_after_hello();
  void end_want(std::uint64_t session, const std::string& method);

  asio::io_context& io_;
  Limits limits_;
  AdmissionPolicy policy_;
  std::string daemon_version_;
  Quotas quotas_;
  Counters counters_;
  StatusReporter status_reporter_;
  Pools* pools_ = nullptr;
  std::uint64_t next_session_id_ = 1;
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  // (client session, method) → the bounded wait for a worker of that method.
  std::map<std::pair<std::uint64_t, std::string>, std::unique_ptr<asio::steady_timer>> waits_;
  // (client session, method) → its waiting ipc.want: the request to answer and the bounded
  // wait for an introduction. One per method and at most max_introductions_per_session per
  // client (each waits for an introduction); erased when answered or the client ends.
  struct WaitingWant {
    std::uint64_t request_id = 0;
    std::unique_ptr<asio::steady_timer> timer;
  };
  std::map<std::pair<std::uint64_t, std::string>, WaitingWant> wants_;
  WorkerDemand* demand_ = nullptr;
  bool draining_ = false;
  std::function<void()> on_empty_;
  std::chrono::milliseconds drain_bound_{0};
};

}  // namespace fastmd::daemon
