// Session brokering (see broker.hpp).
#include "broker.hpp"

#include <fcntl.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "fastmd/platform/peer_groups.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::daemon {

using platform::UniqueFd;
using proto::Errc;
using proto::Error;

namespace {

bool serves_method(const Session& worker, const std::string& method) {
  const auto& methods = worker.hello().methods;
  return std::any_of(methods.begin(), methods.end(),
                     [&](const proto::MethodSpec& spec) { return spec.name == method; });
}

bool is_established(const Session& session, proto::Role role) {
  return session.state() == Session::State::established && session.hello().role == role;
}

// Established and not withdrawn: a peer to introduce and to count as serving.
bool is_live(const Session& session, proto::Role role) {
  return is_established(session, role) && !session.withdrawn();
}

template <class Body>
void notify(Session& session, std::string_view method, const Body& body,
            std::vector<UniqueFd> fds = {}) {
  const proto::ByteBuffer params = proto::encode_body(body);
  proto::Message message = proto::Message::notification(method, params);
  message.fds = static_cast<std::uint32_t>(fds.size());
  session.send(message, std::move(fds));
}

// An owned duplicate of a segment's fd for the output queue; empty if the daemon is out of fds.
UniqueFd duplicate_segment_fd(const Session& owner) {
  return UniqueFd(::fcntl(owner.segment()->fd(), F_DUPFD_CLOEXEC, 0));
}

proto::Introduce describe_for_peer(const Session& about) {
  proto::Introduce body;
  body.peer = about.id();
  body.role = about.hello().role;
  // The kernel's pid; where the platform tells none (posix: getpeereid), the one the hello
  // claims, used by peers only to name it and to recognise it after a restart (§3.8 item 4).
  body.pid =
      about.peer().pid > 0 ? static_cast<std::uint32_t>(about.peer().pid) : about.hello().pid;
  body.name = about.hello().name;
  body.methods = about.hello().methods;
  body.max_frame = about.hello().max_frame;
  body.rings = about.hello().rings;  // passed on unread: only the two peers speak it
  if (about.segment()) body.segment = about.segment()->info();
  return body;
}

// The result of a granted ipc.want: an empty map.
const proto::ByteBuffer kWantGranted{std::byte{0x80}};

}  // namespace

// A client that wants nothing in particular wants every method.
bool Broker::wants_any_of(const Session& client, const Session& worker) const {
  const auto& wants = client.hello().wants;
  if (wants.empty() || std::any_of(wants.begin(), wants.end(), [&](const std::string& m) {
        return serves_method(worker, m);
      })) {
    return true;
  }
  // Or it waits for a method of the worker by ipc.want.
  for (auto it = wants_.lower_bound({client.id(), ""});
       it != wants_.end() && it->first.first == client.id(); ++it) {
    if (serves_method(worker, it->first.second)) return true;
  }
  return false;
}

Broker::Broker(asio::io_context& io, const Limits& limits, AdmissionPolicy policy,
               std::string daemon_version)
    : io_(io),
      limits_(limits),
      policy_(std::move(policy)),
      daemon_version_(std::move(daemon_version)),
      quotas_(limits_) {}

Broker::~Broker() {
  // Sessions call back into the broker while they close; end them while it is still whole.
  waits_.clear();
  wants_.clear();
  close_all();
}

SessionLimits Broker::session_limits() const {
  return SessionLimits{limits_.handshake_timeout(), limits_.max_queued_bytes_per_session};
}

void Broker::accept(UniqueFd socket) {
  auto credentials = platform::peer_credentials(socket.get());
  if (!credentials) {
    spdlog::warn("dropped a new connection: {}", credentials.error().to_string());
    return;
  }
  start_session(std::move(socket), *credentials, false);
}

std::uint64_t Broker::accept_spawned(UniqueFd socket, const platform::PeerCredentials& peer) {
  return start_session(std::move(socket), peer, true);
}

std::uint64_t Broker::start_session(UniqueFd socket, const platform::PeerCredentials& peer,
                                    bool spawned) {
  ++counters_.accepted;
  const std::uint64_t id = next_session_id_++;
  auto session =
      std::make_shared<Session>(io_, std::move(socket), peer, id, *this, session_limits(),
                                quotas_.open_session(peer.uid), quotas_.queued_bytes(peer.uid));
  if (spawned) session->mark_spawned();
  sessions_.emplace(id, session);
  session->start();
  return id;
}

void Broker::apply_limits(const Limits& limits) {
  limits_ = limits;
  for (auto& [id, session] : sessions_) session->set_limits(session_limits());
}

void Broker::hello(Session& session, std::uint64_t request_id, proto::Hello hello) {
  if (draining_) {
    session.fail(EndKind::refused, request_id,
                 Error{Errc::daemon_shutting_down, "the daemon is shutting down"});
    return;
  }
  // Supplementary groups matter only when a gid allow-list is configured.
  std::vector<gid_t> groups;
  if (!policy_.allow_gids.empty()) {
    if (auto listed = platform::peer_groups(session.socket())) groups = std::move(*listed);
  }
  if (auto admitted = admit(session.peer(), hello.role, groups, policy_); !admitted) {
    session.fail(EndKind::refused, request_id, admitted.error());
    return;
  }
  if (!quotas_.sessions_within_limits(session.peer().uid)) {
    session.fail(EndKind::refused, request_id,
                 Error{Errc::quota_exceeded,
                       "uid " + std::to_string(session.peer().uid) + " has reached its " +
                           std::to_string(limits_.max_sessions_per_uid) +
                           " sessions, or the daemon its " + std::to_string(limits_.max_sessions) +
                           "; close unused connections or raise the limits"});
    return;
  }
  session.establish(std::move(hello));
  ++counters_.handshakes;

  proto::HelloReply reply;
  reply.session = session.id();
  reply.daemon = daemon_version_;
  reply.no_worker_wait_ms = limits_.no_worker_wait_ms;
  reply.accepts_load = true;
  reply.drain_ms = static_cast<std::uint32_t>(drain_bound_.count());
  std::vector<UniqueFd> fds;
  const proto::Hello& greeting = session.hello();
  if (pools_ != nullptr && greeting.shm && greeting.role != proto::Role::observer) {
    if (auto lease = pools_->lease(session.id(), session.peer().uid)) {
      session.set_segment(std::move(*lease));
      if (UniqueFd fd = duplicate_segment_fd(session)) {
        reply.segment = session.segment()->info();
        fds.push_back(std::move(fd));
      }
    }
  }
  const proto::ByteBuffer result = proto::encode_body(reply);
  proto::Message response = proto::Message::response(request_id, result);
  response.fds = static_cast<std::uint32_t>(fds.size());
  session.send(response, std::move(fds));
  spdlog::info("{} joined", session.describe());

  // Introduce after the reply, so the peer knows its session before it meets anyone.
  const proto::Role role = session.hello().role;
  // A worker its pool stopped before its hello is introduced to nobody.
  if (session.withdrawn()) return;
  for (auto& [id, other] : sessions_) {
    if (role == proto::Role::worker && is_live(*other, proto::Role::client) &&
        wants_any_of(*other, session)) {
      introduce(*other, session);
    } else if (role == proto::Role::client && is_live(*other, proto::Role::worker) &&
               wants_any_of(session, *other)) {
      introduce(session, *other);
    }
  }
  if (role == proto::Role::worker) cancel_waits_served_by(session);
  if (role == proto::Role::worker) settle_wants_after_hello();
  if (role == proto::Role::client) announce_unserved(session);
}

// A worker's hello may have told a pool its methods: a waiting want for a method that is now
// known to be served by a pool gets a worker started, and one that nobody serves, now that no
// pool is left to learn from, gets METHOD_NOT_FOUND at once instead of waiting out its timer.
void Broker::settle_wants_after_hello() {
  if (demand_ == nullptr || wants_.empty() || demand_->learning_methods()) return;
  const std::vector<std::string> pooled = demand_->pool_methods();
  for (auto it = wants_.begin(); it != wants_.end();) {
    // Named copies, not a structured binding: clang 14 cannot capture a binding in a lambda.
    const std::uint64_t session_id = it->first.first;
    const std::string& method = it->first.second;
    const bool live = std::any_of(sessions_.begin(), sessions_.end(), [&](const auto& entry) {
      return is_live(*entry.second, proto::Role::worker) && serves_method(*entry.second, method);
    });
    if (live) {
      ++it;
      continue;
    }
    if (std::find(pooled.begin(), pooled.end(), method) != pooled.end()) {
      demand_->request_worker(method);
      ++it;
      continue;
    }
    auto client = sessions_.find(session_id);
    if (client != sessions_.end()) {
      client->second->send(
          proto::Message::failure(it->second.request_id, Errc::method_not_found,
                                  proto::method_not_found_message(method, served_methods())));
    }
    it = wants_.erase(it);
  }
}

void Broker::introduce(Session& client, Session& worker) {
  if (client.introduced().contains(worker.id())) return;
  const std::uint32_t limit = limits_.max_introductions_per_session;
  if (client.introduced().size() >= limit || worker.introduced().size() >= limit) {
    // Not silent for the client: announce_unserved() sends it ipc.no_worker when no worker it
    // wants is left to it, and introduce_to_freed() introduces it once a slot frees.
    ++counters_.introductions_over_quota;
    spdlog::warn("not introducing {} to {} now: one of them has reached its {} introductions",
                 client.describe(), worker.describe(), limit);
    return;
  }
  auto pair = platform::make_socketpair();
  if (!pair) {
    spdlog::error("cannot introduce {} to {}: {}", client.describe(), worker.describe(),
                  pair.error().to_string());
    return;
  }
  // Each side gets its end of the channel (fd #1) and the other side's segment (fd #2).
  const auto send_introduction = [](Session& to, const Session& about, UniqueFd channel) {
    proto::Introduce body = describe_for_peer(about);
    std::vector<UniqueFd> fds;
    fds.push_back(std::move(channel));
    if (body.segment) {
      if (UniqueFd segment = duplicate_segment_fd(about)) {
        fds.push_back(std::move(segment));
      } else {
        body.segment.reset();
      }
    }
    notify(to, proto::kIntroduce, body, std::move(fds));
  };
  // The worker's end first: once the client sees its end, the worker's is already queued to
  // the worker, where it outlives this daemon. In the other order a daemon killed between the
  // two sends closed the worker's end unsent, and the client saw its new channel end at once
  // (1 run in 27 of a restart test, under load).
  send_introduction(worker, client, std::move(pair->second));
  send_introduction(client, worker, std::move(pair->first));
  client.introduced().insert(worker.id());
  worker.introduced().insert(client.id());
  ++counters_.introductions;
  spdlog::debug("introduced {} to {}", client.describe(), worker.describe());
  grant_wants(client, worker);
}

bool Broker::serves(const Session& client, const std::string& method) const {
  return std::any_of(client.introduced().begin(), client.introduced().end(), [&](auto peer) {
    auto it = sessions_.find(peer);
    return it != sessions_.end() && is_live(*it->second, proto::Role::worker) &&
           serves_method(*it->second, method);
  });
}

void Broker::introduce_to_freed(Session& freed) {
  const bool is_worker = is_live(freed, proto::Role::worker);
  if (!is_worker && !is_live(freed, proto::Role::client)) return;
  const auto introduce_where = [&](auto&& eligible) {
    for (auto& [id, other] : sessions_) {
      if (freed.introduced().size() >= limits_.max_introductions_per_session) return;
      if (is_worker && is_live(*other, proto::Role::client) && wants_any_of(*other, freed) &&
          eligible(*other)) {
        introduce(*other, freed);
      } else if (!is_worker && is_live(*other, proto::Role::worker) &&
                 wants_any_of(freed, *other)) {
        introduce(freed, *other);
      }
    }
  };
  if (is_worker) {
    // First the clients still waiting for a worker of a method it serves, then the others.
    const auto waits_for_freed = [&](const Session& client, const auto& waits) {
      return std::any_of(waits.begin(), waits.end(), [&](const auto& wait) {
        return wait.first.first == client.id() && serves_method(freed, wait.first.second);
      });
    };
    introduce_where([&](const Session& client) {
      return waits_for_freed(client, wants_) || waits_for_freed(client, waits_);
    });
  }
  introduce_where([](const Session&) { return true; });
  if (is_worker) cancel_waits_served_by(freed);
}

void Broker::announce_unserved(Session& client) {
  for (const std::string& method : client.hello().wants) {
    auto key = std::pair{client.id(), method};
    if (serves(client, method) || waits_.contains(key)) continue;
    ++counters_.no_worker;
    notify(client, proto::kNoWorker, proto::NoWorker{method, limits_.no_worker_wait_ms});
    auto timer = std::make_unique<asio::steady_timer>(
        io_, std::chrono::milliseconds(limits_.no_worker_wait_ms));
    timer->async_wait([this, key](asio::error_code error) {
      if (!error) end_wait(key.first, key.second);
    });
    waits_.emplace(std::move(key), std::move(timer));
  }
}

// The wait is over and still nobody serves the method: `wait_ms: 0` tells the client to fail
// its calls now (PROTOCOL.md §3.3). A worker that registers later is still introduced.
void Broker::end_wait(std::uint64_t session, const std::string& method) {
  waits_.erase(std::pair{session, method});
  auto it = sessions_.find(session);
  if (it == sessions_.end() || serves(*it->second, method)) return;
  notify(*it->second, proto::kNoWorker, proto::NoWorker{method, 0});
}

// Ends the waits that `worker` now answers: those of the clients it was introduced to.
void Broker::cancel_waits_served_by(const Session& worker) {
  std::erase_if(waits_, [&](const auto& entry) {
    return worker.introduced().contains(entry.first.first) &&
           serves_method(worker, entry.first.second);
  });
}

void Broker::cancel_waits_of(std::uint64_t session) {
  std::erase_if(waits_, [&](const auto& entry) { return entry.first.first == session; });
  std::erase_if(wants_, [&](const auto& entry) { return entry.first.first == session; });
}

void Broker::want(Session& client, std::uint64_t request_id, proto::Want want) {
  const std::string& method = want.method;
  if (draining_) {
    // No worker will be started or introduced any more; the client reconnects (§3.8).
    client.send(proto::Message::failure(request_id, Errc::daemon_shutting_down,
                                        "the daemon is shutting down"));
    return;
  }
  if (serves(client, method)) {
    client.send(proto::Message::response(request_id, kWantGranted));
    return;
  }
  auto key = std::pair{client.id(), method};
  if (auto waiting = wants_.find(key); waiting != wants_.end()) {
    client.send(proto::Message::failure(
        request_id, Errc::unexpected_message,
        "ipc.want for '" + method + "' is already waiting (request " +
            std::to_string(waiting->second.request_id) + "); that one is answered"));
    return;
  }
  // Each waiting want waits for an introduction, so a client cannot usefully wait for more.
  if (wants_waiting(client.id()) >= limits_.max_introductions_per_session) {
    client.send(proto::Message::failure(
        request_id, Errc::quota_exceeded,
        "this session already waits for " + std::to_string(wants_waiting(client.id())) +
            " methods (the daemon's max-introductions-per-session)"));
    return;
  }
  std::vector<std::shared_ptr<Session>> live;
  for (auto& [id, other] : sessions_) {
    if (is_live(*other, proto::Role::worker) && serves_method(*other, method)) {
      live.push_back(other);
    }
  }
  std::vector<std::string> pooled = demand_ ? demand_->pool_methods() : std::vector<std::string>{};
  const bool pool_serves = std::find(pooled.begin(), pooled.end(), method) != pooled.end();
  // While a pool's first worker is still to tell its methods, the want waits for it
  // (settle_wants_after_hello() decides once it did).
  const bool learning = demand_ != nullptr && demand_->learning_methods();
  if (live.empty() && !pool_serves && !learning) {
    client.send(proto::Message::failure(request_id, Errc::method_not_found,
                                        proto::method_not_found_message(method, served_methods())));
    return;
  }
  auto timer = std::make_unique<asio::steady_timer>(
      io_, std::chrono::milliseconds(limits_.no_worker_wait_ms));
  timer->async_wait([this, key](asio::error_code error) {
    if (!error) end_want(key.first, key.second);
  });
  wants_.emplace(key, WaitingWant{request_id, std::move(timer)});
  // introduce() grants the want; a worker at its introduction limit is introduced once it has
  // one to spare (introduce_to_freed), or a pool starts one more.
  for (auto& worker : live) introduce(client, *worker);
  if (wants_.contains(key) && pool_serves && !demand_->request_worker(method)) {
    spdlog::warn("{} waits for '{}', and its pool cannot start a worker now", client.describe(),
                 method);
  }
}

std::size_t Broker::wants_waiting(std::uint64_t session) const {
  std::size_t count = 0;
  for (auto it = wants_.lower_bound({session, ""});
       it != wants_.end() && it->first.first == session; ++it) {
    ++count;
  }
  return count;
}

void Broker::grant_wants(Session& client, const Session& worker) {
  for (auto it = wants_.lower_bound({client.id(), ""});
       it != wants_.end() && it->first.first == client.id();) {
    if (!serves_method(worker, it->first.second)) {
      ++it;
      continue;
    }
    client.send(proto::Message::response(it->second.request_id, kWantGranted));
    it = wants_.erase(it);
  }
}

void Broker::end_want(std::uint64_t session, const std::string& method) {
  auto waiting = wants_.find(std::pair{session, method});
  if (waiting == wants_.end()) return;
  const std::uint64_t request_id = waiting->second.request_id;
  wants_.erase(waiting);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  ++counters_.no_worker;
  it->second->send(proto::Message::failure(
      request_id, Errc::no_worker,
      "no worker serving '" + method + "' was introduced within " +
          std::to_string(limits_.no_worker_wait_ms) + " ms (--no-worker-wait-ms)"));
}

std::vector<std::string> Broker::served_methods() const {
  std::vector<std::string> served = demand_ ? demand_->pool_methods() : std::vector<std::string>{};
  for (const auto& [id, session] : sessions_) {
    // A stopping worker's methods are still served: the want waits for a successor.
    if (!is_established(*session, proto::Role::worker)) continue;
    for (const proto::MethodSpec& spec : session->hello().methods) served.push_back(spec.name);
  }
  return served;  // method_not_found_message sorts it and lists each once
}

void Broker::status(Session& session, std::uint64_t request_id) {
  const proto::ByteBuffer result = status_reporter_ ? status_reporter_() : proto::ByteBuffer{};
  session.send(proto::Message::response(request_id, result));
}

void Broker::closed(Session& session, EndKind kind, const std::string& reason) {
  switch (kind) {
    case EndKind::normal:
      ++counters_.disconnects_normal;
      break;
    case EndKind::refused:
      ++counters_.refused;
      break;
    case EndKind::hostile:
      ++counters_.disconnects_hostile;
      break;
    case EndKind::slow:
      ++counters_.disconnects_slow;
      break;
  }
  const std::uint64_t id = session.id();
  cancel_waits_of(id);
  // Keep the session alive until this function is done with it.
  std::shared_ptr<Session> keep = std::move(sessions_.at(id));
  sessions_.erase(id);

  for (std::uint64_t peer_id : session.introduced()) {
    auto it = sessions_.find(peer_id);
    if (it == sessions_.end()) continue;
    Session& peer = *it->second;
    peer.introduced().erase(id);
    // A stopping worker's control connection ends before it has answered its channels, and
    // every session ends when the daemon drains: the direct channel ends by itself (EOF).
    if (!session.withdrawn() && !draining_) {
      ++counters_.peers_gone;
      notify(peer, proto::kPeerGone, proto::PeerGone{id, reason});
    }
    if (draining_) continue;
    // A peer that was at its limit has an introduction to spare now: give it to a session that
    // went without (only then can one have been skipped for this peer's sake).
    if (peer.introduced().size() + 1 >= limits_.max_introductions_per_session) {
      introduce_to_freed(peer);
    }
    // A client may have lost the last worker of a method it wants.
    if (is_live(peer, proto::Role::client)) announce_unserved(peer);
  }
  if (draining_ && sessions_.empty() && on_empty_) {
    auto on_empty = std::move(on_empty_);
    on_empty_ = nullptr;
    on_empty();
  }
}

void Broker::draining(Session& worker) {
  spdlog::info("{} is stopping", worker.describe());
  withdraw(worker.id());
}

void Broker::withdraw(std::uint64_t session_id) {
  auto found = sessions_.find(session_id);
  if (found == sessions_.end() || found->second->withdrawn()) return;
  Session& worker = *found->second;
  worker.withdraw();
  if (worker.state() != Session::State::established) return;  // introduced to nobody yet
  for (std::uint64_t peer_id : worker.introduced()) {
    auto it = sessions_.find(peer_id);
    if (it == sessions_.end()) continue;
    notify(*it->second, proto::kPeerDraining, proto::PeerDraining{session_id});
    // The client may have lost its last worker of a method it wants: it waits for another.
    if (!draining_ && is_live(*it->second, proto::Role::client)) announce_unserved(*it->second);
  }
}

void Broker::drain(const std::string& reason, std::function<void()> on_empty) {
  draining_ = true;
  waits_.clear();
  wants_.clear();
  on_empty_ = std::move(on_empty);
  if (sessions_.empty()) {
    auto done = std::move(on_empty_);
    on_empty_ = nullptr;
    done();
    return;
  }
  std::vector<std::shared_ptr<Session>> all;
  for (auto& [id, session] : sessions_) all.push_back(session);
  for (auto& session : all) session->drain(reason);
}

void Broker::close_all() {
  std::vector<std::shared_ptr<Session>> all;
  for (auto& [id, session] : sessions_) all.push_back(session);
  for (auto& session : all) session->close(EndKind::normal, "the daemon is shutting down");
}

}  // namespace fastmd::daemon
