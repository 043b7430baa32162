// fastmd/proto/control.hpp — the bodies of the control messages (PROTOCOL.md §3 and §5):
// each is a nested MessagePack map carried in a message's params/result bin. Control
// traffic is rare, so these types own their strings.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fastmd/proto/codec.hpp"

namespace fastmd::proto {

// Method names of the control messages.
inline constexpr std::string_view kHello = "ipc.hello";
inline constexpr std::string_view kIntroduce = "ipc.introduce";
inline constexpr std::string_view kPeerGone = "ipc.peer_gone";
inline constexpr std::string_view kNoWorker = "ipc.no_worker";
inline constexpr std::string_view kShutdown = "ipc.shutdown";
inline constexpr std::string_view kStatus = "ipc.status";
inline constexpr std::string_view kCancel = "ipc.cancel";
inline constexpr std::string_view kWant = "ipc.want";
inline constexpr std::string_view kLoad = "ipc.load";
inline constexpr std::string_view kDraining = "ipc.draining";
inline constexpr std::string_view kPeerDraining = "ipc.peer_draining";

enum class Role : std::uint8_t { client, worker, observer };

constexpr std::string_view role_name(Role role) {
  switch (role) {
    case Role::client:
      return "client";
    case Role::worker:
      return "worker";
    case Role::observer:
      return "observer";
  }
  return "?";
}

struct MethodSpec {
  std::string name;
  std::uint32_t concurrency = 1;
  friend bool operator==(const MethodSpec&, const MethodSpec&) = default;
};

/// A segment as announced in a handshake or introduction; its memfd travels beside it.
struct SegmentInfo {
  std::uint32_t segment = 0;
  std::uint64_t size = 0;
  std::uint32_t generation = 0;
  friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;
};

// Field readers for the control bodies; each fails with WRONG_FIELD_TYPE/INVALID_FIELD.
namespace field {

template <class Int>
Status read(const msgpack::object& value, std::string_view key,
            Int& out) requires std::is_unsigned_v<Int> &&(!std::is_same_v<Int, bool>) {
  auto v = read_uint<Int>(value, key);
  if (!v) return v.error();
  out = *v;
  return {};
}

inline Status read(const msgpack::object& value, std::string_view key, bool& out) {
  if (value.type != msgpack::type::BOOLEAN) return detail::wrong_type(key, "a boolean");
  out = value.via.boolean;
  return {};
}

inline Status read(const msgpack::object& value, std::string_view key, std::string& out) {
  auto v = read_str(value, key);
  if (!v) return v.error();
  out.assign(*v);
  return {};
}

inline Status read(const msgpack::object& value, std::string_view key, Role& out) {
  auto v = read_str(value, key);
  if (!v) return v.error();
  for (Role role : {Role::client, Role::worker, Role::observer}) {
    if (*v == role_name(role)) {
      out = role;
      return {};
    }
  }
  return Error{Errc::invalid_field,
               "'" + std::string(key) + "' must be client, worker or observer"};
}

inline Status read(const msgpack::object& value, std::string_view key, MethodSpec& out) {
  bool has_name = false;
  Status status = for_each_field(value, key, [&](std::string_view k, const msgpack::object& v) {
    if (k == "name") {
      has_name = true;
      return read(v, "methods.name", out.name);
    }
    if (k == "concurrency") return read(v, "methods.concurrency", out.concurrency);
    return Status{};
  });
  if (!status) return status;
  if (!has_name || out.name.empty() || out.name.size() > kMaxMethodName) {
    return Error{Errc::invalid_field,
                 "each method needs a name of 1 to " + std::to_string(kMaxMethodName) + " bytes"};
  }
  if (out.concurrency == 0)
    return Error{Errc::invalid_field, "a method's concurrency must be >= 1"};
  return {};
}

inline Status read(const msgpack::object& value, std::string_view key, SegmentInfo& out) {
  unsigned seen = 0;
  Status status = for_each_field(value, key, [&](std::string_view k, const msgpack::object& v) {
    if (k == "segment") return seen |= 1, read(v, "segment.segment", out.segment);
    if (k == "size") return seen |= 2, read(v, "segment.size", out.size);
    if (k == "generation") return seen |= 4, read(v, "segment.generation", out.generation);
    return Status{};
  });
  if (!status) return status;
  if (seen != 7) return Error{Errc::missing_field, "a segment needs segment, size and generation"};
  return {};
}

template <class T>
Status read(const msgpack::object& value, std::string_view key, std::optional<T>& out) {
  T inner{};
  Status status = read(value, key, inner);
  if (status) out = std::move(inner);
  return status;
}

template <class T>
Status read(const msgpack::object& value, std::string_view key, std::vector<T>& out) {
  if (value.type != msgpack::type::ARRAY) return detail::wrong_type(key, "an array");
  out.clear();
  out.resize(value.via.array.size);
  for (std::uint32_t i = 0; i < value.via.array.size; ++i) {
    Status status = read(value.via.array.ptr[i], key, out[i]);
    if (!status) return status;
  }
  return {};
}

inline void write(Packer& p, std::uint64_t v) {
  p.pack_uint64(v);
}
inline void write(Packer& p, bool v) {
  v ? p.pack_true() : p.pack_false();
}
inline void write(Packer& p, std::string_view v) {
  pack_str(p, v);
}
inline void write(Packer& p, Role v) {
  pack_str(p, role_name(v));
}
inline void write(Packer& p, const MethodSpec& v) {
  p.pack_map(2);
  pack_str(p, "name");
  pack_str(p, v.name);
  pack_str(p, "concurrency");
  p.pack_uint32(v.concurrency);
}
inline void write(Packer& p, const SegmentInfo& v) {
  p.pack_map(3);
  pack_str(p, "segment");
  p.pack_uint32(v.segment);
  pack_str(p, "size");
  p.pack_uint64(v.size);
  pack_str(p, "generation");
  p.pack_uint32(v.generation);
}
template <class T>
void write(Packer& p, const std::vector<T>& v) {
  p.pack_array(static_cast<std::uint32_t>(v.size()));
  for (const auto& item : v) write(p, item);
}

/// Writes a map of (key, value) pairs, skipping empty optionals.
class MapWriter {
 public:
  explicit MapWriter(ByteBuffer& out) : sink_{out}, packer_(sink_) {}

  template <class... Fields>
  void write_map(const Fields&... fields) {
    packer_.pack_map((0 + ... + (present(fields.second) ? 1u : 0u)));
    (write_field(fields.first, fields.second), ...);
  }

 private:
  template <class T>
  static bool present(const T&) {
    return true;
  }
  template <class T>
  static bool present(const std::optional<T>& v) {
    return v.has_value();
  }

  template <class T>
  void write_field(std::string_view key, const T& value) {
    pack_str(packer_, key);
    if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
      write(packer_, static_cast<std::uint64_t>(value));
    } else if constexpr (std::is_same_v<T, std::string>) {
      write(packer_, std::string_view{value});
    } else {
      write(packer_, value);
    }
  }
  template <class T>
  void write_field(std::string_view key, const std::optional<T>& value) {
    if (value) write_field(key, *value);
  }

  ByteSink sink_;
  Packer packer_;
};

/// A flag whose absence means false (older peers never send it) is written only when set, so
/// the bodies of peers that do not use it stay as they were.
inline std::optional<bool> only_if_true(bool flag) {
  return flag ? std::optional<bool>(true) : std::nullopt;
}

template <class T>
std::pair<std::string_view, const T&> kv(std::string_view key, const T& value) {
  return {key, value};
}

}  // namespace field

/// Decodes a control body of type T (which has `static Status read_field(T&, key, value)`
/// and `required()` checks) from a message's params or result bytes.
template <class T>
Result<T> decode_body(Decoder& decoder, ByteView bytes) {
  Result<msgpack::object> object = decoder.unpack(bytes);
  if (!object) return object.error();
  T body{};
  Status status =
      for_each_field(*object, T::kWhat, [&](std::string_view key, const msgpack::object& value) {
        return body.read_field(key, value);
      });
  if (!status) return status.error();
  Status valid = body.validate();
  if (!valid) return valid.error();
  return body;
}

/// Encodes a control body into bytes for a message's params or result.
template <class T>
ByteBuffer encode_body(const T& body) {
  ByteBuffer out;
  field::MapWriter writer(out);
  body.write_to(writer);
  return out;
}

/// `ipc.hello` request params (PROTOCOL.md §3.1).
struct Hello {
  static constexpr std::string_view kWhat = "ipc.hello params";
  Role role = Role::client;
  std::uint32_t pid = 0;
  std::string name;
  std::vector<MethodSpec> methods;
  std::vector<std::string> wants;
  std::uint32_t max_frame = kDefaultMaxDataFrame;
  bool shm = true;
  /// Worker: it sends ipc.load (§3.10). Without it the daemon counts its load as unknown.
  bool reports_load = false;
  bool has_role = false;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "role") return has_role = true, field::read(value, key, role);
    if (key == "pid") return field::read(value, key, pid);
    if (key == "name") return field::read(value, key, name);
    if (key == "methods") return field::read(value, key, methods);
    if (key == "wants") return field::read(value, key, wants);
    if (key == "max_frame") return field::read(value, key, max_frame);
    if (key == "shm") return field::read(value, key, shm);
    if (key == "reports_load") return field::read(value, key, reports_load);
    return {};
  }
  Status validate() const {
    if (!has_role) return Error{Errc::missing_field, "ipc.hello needs 'role'"};
    if (role == Role::worker && methods.empty()) {
      return Error{Errc::invalid_field, "a worker must serve at least one method"};
    }
    if (max_frame < 1024) return Error{Errc::invalid_field, "'max_frame' must be at least 1024"};
    return {};
  }
  void write_to(field::MapWriter& w) const {
    using field::kv;
    w.write_map(kv("role", role), kv("pid", pid), kv("name", name), kv("methods", methods),
                kv("wants", wants), kv("max_frame", max_frame), kv("shm", shm),
                kv("reports_load", field::only_if_true(reports_load)));
  }
};

/// `ipc.hello` response result.
struct HelloReply {
  static constexpr std::string_view kWhat = "ipc.hello result";
  std::uint64_t session = 0;
  std::string daemon;
  std::optional<SegmentInfo> segment;
  /// How long the daemon lets a client wait for a worker of a method before it answers
  /// NO_WORKER (its `--no-worker-wait-ms`). The daemon always sends it; absent only from a
  /// daemon older than this field, when a client keeps to its own bound for a dead daemon.
  std::optional<std::uint32_t> no_worker_wait_ms;
  /// The daemon takes ipc.load from workers (§3.10); a worker sends it only when this is true.
  bool accepts_load = false;
  /// The daemon's drain bound (its --drain-timeout-ms): how long a stopping worker keeps
  /// answering the calls on its channels (§3.11). Sent by daemons that take ipc.draining;
  /// a worker sends ipc.draining only to a daemon that sent it.
  std::optional<std::uint32_t> drain_ms;
  bool has_session = false;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "session") return has_session = true, field::read(value, key, session);
    if (key == "daemon") return field::read(value, key, daemon);
    if (key == "segment") return field::read(value, key, segment);
    if (key == "no_worker_wait_ms") return field::read(value, key, no_worker_wait_ms);
    if (key == "accepts_load") return field::read(value, key, accepts_load);
    if (key == "drain_ms") return field::read(value, key, drain_ms);
    return {};
  }
  Status validate() const {
    if (!has_session) return Error{Errc::missing_field, "ipc.hello result needs 'session'"};
    return {};
  }
  void write_to(field::MapWriter& w) const {
    using field::kv;
    w.write_map(kv("session", session), kv("daemon", daemon), kv("segment", segment),
                kv("no_worker_wait_ms", no_worker_wait_ms),
                kv("accepts_load", field::only_if_true(accepts_load)), kv("drain_ms", drain_ms));
  }
};

/// `ipc.introduce` notification params (PROTOCOL.md §3.2): fd #1 is the direct channel,
/// fd #2 (when `segment` is set) the peer's segment memfd.
struct Introduce {
  static constexpr std::string_view kWhat = "ipc.introduce params";
  std::uint64_t peer = 0;
  Role role = Role::worker;
  std::uint32_t pid = 0;
  std::string name;
  std::vector<MethodSpec> methods;
  std::uint32_t max_frame = kDefaultMaxDataFrame;
  std::optional<SegmentInfo> segment;
  bool has_peer = false;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "peer") return has_peer = true, field::read(value, key, peer);
    if (key == "role") return field::read(value, key, role);
    if (key == "pid") return field::read(value, key, pid);
    if (key == "name") return field::read(value, key, name);
    if (key == "methods") return field::read(value, key, methods);
    if (key == "max_frame") return field::read(value, key, max_frame);
    if (key == "segment") return field::read(value, key, segment);
    return {};
  }
  Status validate() const {
    if (!has_peer) return Error{Errc::missing_field, "ipc.introduce needs 'peer'"};
    return {};
  }
  void write_to(field::MapWriter& w) const {
    using field::kv;
    w.write_map(kv("peer", peer), kv("role", role), kv("pid", pid), kv("name", name),
                kv("methods", methods), kv("max_frame", max_frame), kv("segment", segment));
  }
};

/// `ipc.peer_gone` notification params.
struct PeerGone {
  static constexpr std::string_view kWhat = "ipc.peer_gone params";
  std::uint64_t peer = 0;
  std::string reason;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "peer") return field::read(value, key, peer);
    if (key == "reason") return field::read(value, key, reason);
    return {};
  }
  Status validate() const { return {}; }
  void write_to(field::MapWriter& w) const {
    w.write_map(field::kv("peer", peer), field::kv("reason", reason));
  }
};

/// `ipc.peer_draining` notification params (§3.11): the worker `peer` is stopping. Its
/// client sends it no new calls and closes the channel once its calls there are answered.
struct PeerDraining {
  static constexpr std::string_view kWhat = "ipc.peer_draining params";
  std::uint64_t peer = 0;
  bool has_peer = false;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "peer") return has_peer = true, field::read(value, key, peer);
    return {};
  }
  Status validate() const {
    if (!has_peer) return Error{Errc::missing_field, "ipc.peer_draining needs 'peer'"};
    return {};
  }
  void write_to(field::MapWriter& w) const { w.write_map(field::kv("peer", peer)); }
};

/// `ipc.no_worker` notification params.
struct NoWorker {
  static constexpr std::string_view kWhat = "ipc.no_worker params";
  std::string method;
  std::uint32_t wait_ms = 0;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "method") return field::read(value, key, method);
    if (key == "wait_ms") return field::read(value, key, wait_ms);
    return {};
  }
  Status validate() const { return {}; }
  void write_to(field::MapWriter& w) const {
    w.write_map(field::kv("method", method), field::kv("wait_ms", wait_ms));
  }
};

/// `ipc.want` request params (PROTOCOL.md §3.9), client → daemon: "I have a call for `method`
/// and no worker I was introduced to serves it". Answered `{}` once such a worker is introduced,
/// NO_WORKER after the daemon's wait, or METHOD_NOT_FOUND at once when nothing serves it.
struct Want {
  static constexpr std::string_view kWhat = "ipc.want params";
  std::string method;
  bool has_method = false;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "method") return has_method = true, field::read(value, key, method);
    return {};
  }
  Status validate() const {
    if (!has_method) return Error{Errc::missing_field, "ipc.want needs 'method'"};
    if (method.empty() || method.size() > kMaxMethodName) {
      return Error{Errc::invalid_field, "ipc.want needs a 'method' of 1 to " +
                                            std::to_string(kMaxMethodName) + " bytes"};
    }
    return {};
  }
  void write_to(field::MapWriter& w) const { w.write_map(field::kv("method", method)); }
};

/// `ipc.shutdown` notification params.
struct Shutdown {
  static constexpr std::string_view kWhat = "ipc.shutdown params";
  std::string reason;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "reason") return field::read(value, key, reason);
    return {};
  }
  Status validate() const { return {}; }
  void write_to(field::MapWriter& w) const { w.write_map(field::kv("reason", reason)); }
};

/// `ipc.cancel` notification params (direct channel).
struct Cancel {
  static constexpr std::string_view kWhat = "ipc.cancel params";
  std::uint64_t id = 0;
  bool has_id = false;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "id") return has_id = true, field::read(value, key, id);
    return {};
  }
  Status validate() const {
    if (!has_id) return Error{Errc::missing_field, "ipc.cancel needs 'id'"};
    return {};
  }
  void write_to(field::MapWriter& w) const { w.write_map(field::kv("id", id)); }
};

/// `ipc.load` notification params (PROTOCOL.md §3.10), worker → daemon: the calls the worker
/// is handling now (queued or running) and the requests it has answered since it started.
/// A worker sends it when a value changed, at most every 100 ms; the daemon's pools scale on it.
struct Load {
  static constexpr std::string_view kWhat = "ipc.load params";
  std::uint32_t in_flight = 0;
  std::uint64_t served = 0;
  bool has_in_flight = false;
  bool has_served = false;

  Status read_field(std::string_view key, const msgpack::object& value) {
    if (key == "in_flight") return has_in_flight = true, field::read(value, key, in_flight);
    if (key == "served") return has_served = true, field::read(value, key, served);
    return {};
  }
  Status validate() const {
    if (!has_in_flight || !has_served) {
      return Error{Errc::missing_field, "ipc.load needs 'in_flight' and 'served'"};
    }
    return {};
  }
  void write_to(field::MapWriter& w) const {
    w.write_map(field::kv("in_flight", in_flight), field::kv("served", served));
  }
};

}  // namespace fastmd::proto
