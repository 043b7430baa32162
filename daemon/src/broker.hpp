// broker.hpp — where sessions are brokered: the registry of live sessions and the methods
// their workers serve. The broker admits each hello (credentials, quotas), introduces every
// client to every live worker serving a method it wants by handing each side one end of a
// fresh socketpair (ipc.introduce), introduces late workers to waiting clients, tells clients
// when nobody serves a method (ipc.no_worker, with a bounded wait), and announces a peer's end
// to everyone it was introduced to (ipc.peer_gone).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

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

  /// Who starts workers of configured pools (none: the daemon has no pools).
  void set_worker_demand(WorkerDemand* demand) { worker_demand_ = demand; }

  /// Starts a session for a freshly accepted connection.
  void accept(platform::UniqueFd socket);

  /// Starts a session on the daemon's end of a socketpair whose other end a worker the daemon
  /// spawned holds: `peer` is that worker (SO_PEERCRED of a socketpair names its creator, the
  /// daemon). Returns the session's id.
  std::uint64_t accept_spawned(platform::UniqueFd socket, const platform::PeerCredentials& peer);

  /// Applies reloaded limits to new and running sessions.
  void apply_limits(const Limits& limits);

  /// Refuses new handshakes, sends ipc.shutdown to every session and ends each once its queue
  /// is flushed; `on_empty` runs when the last session has ended (at once if none is left).
  void drain(const std::string& reason, std::function<void()> on_empty);

  /// Ends every session now (after the drain timeout).
  void close_all();

  const std::map<std::uint64_t, std::shared_ptr<Session>>& sessions() const { return sessions_; }
  const Counters& counters() const { return counters_; }
  const Quotas& quotas() const { return quotas_; }
  const Limits& limits() const { return limits_; }

  // SessionHost
  void hello(Session& session, std::uint64_t request_id, proto::Hello hello) override;
  void status(Session& session, std::uint64_t request_id) override;
  void closed(Session& session, EndKind kind, const std::string& reason) override;
  bool charge_queued(uid_t uid, std::int64_t bytes) override;

 private:
  SessionLimits session_limits() const;
  std::uint64_t start_session(platform::UniqueFd socket, const platform::PeerCredentials& peer);
  /// Whether a worker `client` has been introduced to serves `method`.
  bool serves(const Session& client, const std::string& method) const;
  /// Introduction quotas: a skipped pair is introduced once one side has a slot to spare.
  void introduce(Session& client, Session& worker);
  void introduce_to_freed(Session& freed);
  void announce_unserved(Session& client);
  void end_wait(std::uint64_t session, const std::string& method);
  void cancel_waits_served_by(const Session& worker);
  void cancel_waits_of(std::uint64_t session);

  asio::io_context& io_;
  Limits limits_;
  AdmissionPolicy policy_;
  std::string daemon_version_;
  Quotas quotas_;
  Counters counters_;
  StatusReporter status_reporter_;
  Pools* pools_ = nullptr;
  WorkerDemand* worker_demand_ = nullptr;
  std::uint64_t next_session_id_ = 1;
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  // (client session, method) → the bounded wait for a worker of that method.
  std::map<std::pair<std::uint64_t, std::string>, std::unique_ptr<asio::steady_timer>> waits_;
  bool draining_ = false;
  std::function<void()> on_empty_;
};

}  // namespace fastmd::daemon
