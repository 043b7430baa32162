// The ipc.status report (see status.hpp).
#include "status.hpp"

#include <algorithm>

#include "pools/supervisor.hpp"

namespace fastmd::daemon {

namespace {

constexpr std::size_t kMaxListedSessions = 256;
// The report must fit one control frame (64 KiB) whatever the peers' names and methods: the
// session list gets what is left after this reserve for the rest of the map (identity, socket
// path, counters, limits, pools and the response around it: well under 2 KiB) and the worker
// pools' own budget (pools/supervisor.hpp).
constexpr std::size_t kReservedForTheRest = 8 * 1024 + Supervisor::kStatusBudget;
constexpr std::size_t kSessionListBudget = proto::kDefaultMaxControlFrame - kReservedForTheRest;

void write_uint(proto::Packer& p, std::string_view key, std::uint64_t value) {
  proto::pack_str(p, key);
  p.pack_uint64(value);
}

void write_str(proto::Packer& p, std::string_view key, std::string_view value) {
  proto::pack_str(p, key);
  proto::pack_str(p, value);
}

void write_session(proto::Packer& p, const Session& s) {
  const bool established = s.state() == Session::State::established;
  p.pack_map(9);
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
    if (listed_bytes.size() + one.size() > kSessionListBudget) break;
    listed_bytes.insert(listed_bytes.end(), one.begin(), one.end());
    ++listed;
  }
  p.pack_map(10);
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
  if (facts.write_worker_pools) {
    facts.write_worker_pools(p);
  } else {
    p.pack_array(0);
  }
  return out;
}

}  // namespace fastmd::daemon
