// The ipc.status report (see status.hpp).
#include "status.hpp"

#include <algorithm>

#include "fastmd/platform/capabilities.hpp"
#include "pools/supervisor.hpp"
#include "status_fields.hpp"

namespace fastmd::daemon {

namespace {

constexpr std::size_t kMaxListedSessions = 256;
// The report must fit one control frame (64 KiB) whatever the peers' names and methods: the
// session list gets what is left after this reserve for the rest of the map (identity, socket
// path, counters, limits, pools and the response around it: well under 2 KiB); the worker
// pools (bounded by their own budget, pools/supervisor.hpp) come out of the session list's.
constexpr std::size_t kReservedForTheRest = 8 * 1024;
constexpr std::size_t kSessionListBudget = proto::kDefaultMaxControlFrame - kReservedForTheRest;
static_assert(Supervisor::kStatusBudget < kSessionListBudget / 2);

using status_fields::write_str;
using status_fields::write_uint;

// A worker's last ipc.load, with the ages of the report and of its in_flight value.
void write_load(proto::Packer& p, const WorkerLoad& load, WorkerLoad::Clock::time_point now) {
  const auto ms_since = [now](WorkerLoad::Clock::time_point then) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - then).count());
  };
  p.pack_map(5);
  write_uint(p, "in_flight", load.last.in_flight);
  write_uint(p, "served", load.last.served);
  write_uint(p, "reports", load.reports);
  write_uint(p, "reported_ms_ago", ms_since(load.reported_at));
  write_uint(p, "changed_ms_ago", ms_since(load.changed_at));
}

void write_session(proto::Packer& p, const Session& s) {
  const bool established = s.state() == Session::State::established;
  // A worker without `reports_load` has no load to show: unknown, not zero.
  const bool worker =
      established && s.hello().role == proto::Role::worker && s.hello().reports_load;
  p.pack_map(worker ? 10 : 9);
  write_uint(p, "session", s.id());
  write_str(p, "role", established ? proto::role_name(s.hello().role) : "handshake");
  write_uint(p, "pid", static_cast<std::uint64_t>(s.peer().pid));
  write_uint(p, "uid", s.peer().uid);
  write_str(p, "name", s.hello().name);
  proto::pack_str(p, "methods");
  proto::field::write(p, established ? s.hello().methods : std::vector<proto::MethodSpec>{});
  proto::pack_str(p, "wants");
  p.pack_array(static_cast<std::uint32_t>(s.hello().wants.size()));
  for (const std::string& method : s.hello().wants) proto::pack_str(p, method);
  write_uint(p, "introductions", s.introduced().size());
  write_uint(p, "queued_bytes", s.queued_bytes());
  if (worker) {
    proto::pack_str(p, "load");
    write_load(p, s.load(), WorkerLoad::Clock::now());
  }
}

void write_counters(proto::Packer& p, const Counters& c, std::uint64_t dropped_for_emfile) {
  p.pack_map(11);
  write_uint(p, "accepted", c.accepted);
  write_uint(p, "handshakes", c.handshakes);
  write_uint(p, "refused", c.refused);
  write_uint(p, "introductions", c.introductions);
  write_uint(p, "introductions_over_quota", c.introductions_over_quota);
  write_uint(p, "no_worker", c.no_worker);
  write_uint(p, "peers_gone", c.peers_gone);
  write_uint(p, "disconnects_normal", c.disconnects_normal);
  write_uint(p, "disconnects_hostile", c.disconnects_hostile);
  write_uint(p, "disconnects_slow", c.disconnects_slow);
  write_uint(p, "dropped_for_emfile", dropped_for_emfile);
}

void write_limits(proto::Packer& p, const Limits& l) {
  p.pack_map(7);
  write_uint(p, "handshake_timeout_ms", l.handshake_timeout_ms);
  write_uint(p, "no_worker_wait_ms", l.no_worker_wait_ms);
  write_uint(p, "max_sessions", l.max_sessions);
  write_uint(p, "max_sessions_per_uid", l.max_sessions_per_uid);
  write_uint(p, "max_introductions_per_session", l.max_introductions_per_session);
  write_uint(p, "max_queued_bytes_per_session", l.max_queued_bytes_per_session);
  write_uint(p, "max_queued_bytes_per_uid", l.max_queued_bytes_per_uid);
}

}  // namespace

proto::ByteBuffer encode_status(const Broker& broker, const DaemonFacts& facts) {
  proto::ByteBuffer out;
  proto::ByteSink sink{out};
  proto::Packer p(sink);
  const auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - facts.started);

  // The worker pools first (at most Supervisor::kStatusBudget): the sessions get what is left.
  proto::ByteBuffer worker_pools;
  proto::ByteSink worker_pools_sink{worker_pools};
  proto::Packer worker_pools_packer(worker_pools_sink);
  if (facts.write_worker_pools) {
    facts.write_worker_pools(worker_pools_packer);
  } else {
    worker_pools_packer.pack_array(0);
  }
  const std::size_t session_budget = kSessionListBudget - worker_pools.size();

  // List the first sessions that fit the frame's budget (at most 256), count them all in
  // sessions_total.
  proto::ByteBuffer listed_bytes;
  std::uint32_t listed = 0;
  for (const auto& [id, session] : broker.sessions()) {
    if (listed == kMaxListedSessions) break;
    proto::ByteBuffer one;
    proto::ByteSink one_sink{one};
    proto::Packer one_packer(one_sink);
    write_session(one_packer, *session);
    if (listed_bytes.size() + one.size() > session_budget) break;
    listed_bytes.insert(listed_bytes.end(), one.begin(), one.end());
    ++listed;
  }
  p.pack_map(11);
  write_str(p, "daemon", facts.version);
  write_uint(p, "pid", static_cast<std::uint64_t>(facts.pid));
  write_uint(p, "uptime_ms", static_cast<std::uint64_t>(uptime.count()));
  write_str(p, "socket", facts.socket_path);
  proto::pack_str(p, "sessions");
  p.pack_array(listed);
  out.insert(out.end(), listed_bytes.begin(), listed_bytes.end());
  write_uint(p, "sessions_total", broker.sessions().size());
  proto::pack_str(p, "counters");
  write_counters(p, broker.counters(), facts.dropped_for_emfile);
  proto::pack_str(p, "limits");
  write_limits(p, broker.limits());
  proto::pack_str(p, "pools");
  if (facts.write_pools) {
    facts.write_pools(p);
  } else {
    p.pack_array(0);
  }
  proto::pack_str(p, "worker_pools");
  out.insert(out.end(), worker_pools.begin(), worker_pools.end());
  // Which platform layer serves (docs/platforms.md), so a degraded build is visible.
  const platform::Capabilities& platform = platform::capabilities();
  proto::pack_str(p, "platform");
  p.pack_map(6);
  write_str(p, "name", platform.name);
  write_str(p, "memory_backing", platform.memory_backing);
  proto::pack_str(p, "sealing");
  platform.sealing ? p.pack_true() : p.pack_false();
  write_str(p, "poller", platform.poller);
  write_str(p, "liveness", platform.liveness);
  write_str(p, "credentials", platform.credentials);
  return out;
}

}  // namespace fastmd::daemon
