// fastmd/proto/control.hpp — the bodies of the control messages (PROTOCOL.md §3 and §5):
// each is a nested MessagePack map carried in a message's params/result bin. Control
// traffic is rare, so these types own their strings.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
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

/// How a key of a control body is present: `optional` (absent keeps the default), `required`
/// (absent is MISSING_FIELD), or `flag` (a bool whose absence means false, written only when
/// true, so a peer that does not use it sends the same bytes as before it existed).
enum class Presence : std::uint8_t { optional, required, flag };

/// One key of a control body: its name, the member it fills, and how it is present. A body
/// lists its keys once, in `fields()`, which both decoding and encoding walk (decode_body,
/// encode_body), so the two cannot disagree.
template <class Body, class T>
struct Key {
  std::string_view name;
  T Body::*member;
  Presence presence = Presence::optional;
};
template <class Body, class T>
constexpr Key<Body, T> optional_key(std::string_view name, T Body::*member) {
  return {name, member, Presence::optional};
}
template <class Body, class T>
constexpr Key<Body, T> required_key(std::string_view name, T Body::*member) {
  return {name, member, Presence::required};
}
template <class Body>
constexpr Key<Body, bool> flag_key(std::string_view name, bool Body::*member) {
  return {name, member, Presence::flag};
}

struct MethodSpec {
  std::string name;
  std::uint32_t concurrency = 1;
  friend bool operator==(const MethodSpec&, const MethodSpec&) = default;

  static constexpr std::string_view kWhat = "a method";
  static constexpr auto fields() {
    return std::tuple{required_key("name", &MethodSpec::name),
                      optional_key("concurrency", &MethodSpec::concurrency)};
  }
  Status validate() const;
};

/// A segment as announced in a handshake or introduction; its memfd travels beside it.
struct SegmentInfo {
  std::uint32_t segment = 0;
  std::uint64_t size = 0;
  std::uint32_t generation = 0;
  friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;

  static constexpr std::string_view kWhat = "a segment";
  static constexpr auto fields() {
    return std::tuple{required_key("segment", &SegmentInfo::segment),
                      required_key("size", &SegmentInfo::size),
                      required_key("generation", &SegmentInfo::generation)};
  }
};

inline Status MethodSpec::validate() const {
  if (name.empty() || name.size() > kMaxMethodName) {
    return Error{Errc::invalid_field,
                 "each method needs a name of 1 to " + std::to_string(kMaxMethodName) + " bytes"};
  }
  if (concurrency == 0) return Error{Errc::invalid_field, "a method's concurrency must be >= 1"};
  return {};
}

// Readers and writers of the values in control bodies; a reader fails with
// WRONG_FIELD_TYPE/INVALID_FIELD naming the key.
namespace field {

template <class T>
concept Schema = requires {
  T::fields();
};

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

template <Schema T>
Status read(const msgpack::object& value, std::string_view key, T& out);
template <class T>
Status read(const msgpack::object& value, std::string_view key, std::optional<T>& out);
template <class T>
Status read(const msgpack::object& value, std::string_view key, std::vector<T>& out);

/// Fills `out` from the map `map` by its keys (`what` names the map in errors): unknown keys
/// are ignored, a missing required key is MISSING_FIELD, then a body with a `validate()` runs it.
template <Schema T>
Status read_members(const msgpack::object& map, std::string_view what, T& out) {
  static constexpr auto keys = T::fields();
  constexpr std::size_t count = std::tuple_size_v<std::remove_const_t<decltype(keys)>>;
  std::array<bool, count> seen{};
  Status status = for_each_field(map, what, [&](std::string_view name, const msgpack::object& v) {
    Status result;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((name == std::get<I>(keys).name &&
              (seen[I] = true, result = read(v, name, out.*std::get<I>(keys).member), true)) ||
             ...);
    }
    (std::make_index_sequence<count>{});
    return result;
  });
  if (!status) return status;
  std::string_view missing;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (void)(((std::get<I>(keys).presence == Presence::required && !seen[I]) &&
            (missing = std::get<I>(keys).name, true)) ||
           ...);
  }
  (std::make_index_sequence<count>{});
  if (!missing.empty()) {
    return Error{Errc::missing_field, std::string(what) + " needs '" + std::string(missing) + "'"};
  }
  if constexpr (requires { out.validate(); }) return out.validate();
  return {};
}

/// A nested body (a method, a segment): its errors name the key it came in.
template <Schema T>
Status read(const msgpack::object& value, std::string_view key, T& out) {
  Status status = read_members(value, key, out);
  if (!status && status.error().code != Errc::not_a_map) {
    return Error{status.error().code, std::string(key) + ": " + status.error().message};
  }
  return status;
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

template <class Int>
void write(Packer& p, Int v) requires std::is_unsigned_v<Int> &&(!std::is_same_v<Int, bool>) {
  p.pack_uint64(v);
}
inline void write(Packer& p, bool v) {
  v ? p.pack_true() : p.pack_false();
}
inline void write(Packer& p, const std::string& v) {
  pack_str(p, v);
}
inline void write(Packer& p, Role v) {
  pack_str(p, role_name(v));
}
template <Schema T>
void write(Packer& p, const T& body);
template <class T>
void write(Packer& p, const std::vector<T>& v) {
  p.pack_array(static_cast<std::uint32_t>(v.size()));
  for (const auto& item : v) write(p, item);
}

template <class Body, class T>
bool present(const Body& body, const Key<Body, T>& key) {
  if constexpr (std::is_same_v<T, bool>) {
    if (key.presence == Presence::flag) return body.*key.member;
  }
  return true;
}
template <class Body, class T>
bool present(const Body& body, const Key<Body, std::optional<T>>& key) {
  return (body.*key.member).has_value();
}
template <class T>
void write_value(Packer& p, const T& value) {
  write(p, value);
}
template <class T>
void write_value(Packer& p, const std::optional<T>& value) {
  write(p, *value);
}

/// Packs a body as a map of its present keys in `fields()` order (an empty optional and a
/// false flag are left out).
template <Schema T>
void write(Packer& p, const T& body) {
  std::apply(
      [&](const auto&... each) {
        p.pack_map((0u + ... + (present(body, each) ? 1u : 0u)));
        ((present(body, each) ? (pack_str(p, each.name), write_value(p, body.*each.member))
                              : void()),
         ...);
      },
      T::fields());
}

}  // namespace field

/// Decodes a control body of type T (its keys in `T::fields()`, its own checks, if any, in
/// `validate()`) from a message's params or result bytes.
template <field::Schema T>
Result<T> decode_body(Decoder& decoder, ByteView bytes) {
  Result<msgpack::object> object = decoder.unpack(bytes);
  if (!object) return object.error();
  T body{};
  Status status = field::read_members(*object, T::kWhat, body);
  if (!status) return status.error();
  return body;
}

/// Encodes a control body into bytes for a message's params or result.
template <field::Schema T>
ByteBuffer encode_body(const T& body) {
  ByteBuffer out;
  ByteSink sink{out};
  Packer packer(sink);
  field::write(packer, body);
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
  /// The ring layout (§5.5) this peer speaks on its direct channels; absent: socket frames
  /// only (and the bytes of a peer that does not offer rings are as before they existed).
  std::optional<std::uint32_t> rings;

  static constexpr auto fields() {
    return std::tuple{
        required_key("role", &Hello::role),   optional_key("pid", &Hello::pid),
        optional_key("name", &Hello::name),   optional_key("methods", &Hello::methods),
        optional_key("wants", &Hello::wants), optional_key("max_frame", &Hello::max_frame),
        optional_key("shm", &Hello::shm),     flag_key("reports_load", &Hello::reports_load),
        optional_key("rings", &Hello::rings)};
  }
  Status validate() const {
    if (role == Role::worker && methods.empty()) {
      return Error{Errc::invalid_field, "a worker must serve at least one method"};
    }
    if (max_frame < 1024) return Error{Errc::invalid_field, "'max_frame' must be at least 1024"};
    return {};
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

  static constexpr auto fields() {
    return std::tuple{required_key("session", &HelloReply::session),
                      optional_key("daemon", &HelloReply::daemon),
                      optional_key("segment", &HelloReply::segment),
                      optional_key("no_worker_wait_ms", &HelloReply::no_worker_wait_ms),
                      flag_key("accepts_load", &HelloReply::accepts_load),
                      optional_key("drain_ms", &HelloReply::drain_ms)};
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
  /// The ring layout (§5.5) the other side speaks, passed on from its hello; absent: none.
  std::optional<std::uint32_t> rings;

  static constexpr auto fields() {
    return std::tuple{required_key("peer", &Introduce::peer),
                      optional_key("role", &Introduce::role),
                      optional_key("pid", &Introduce::pid),
                      optional_key("name", &Introduce::name),
                      optional_key("methods", &Introduce::methods),
                      optional_key("max_frame", &Introduce::max_frame),
                      optional_key("segment", &Introduce::segment),
                      optional_key("rings", &Introduce::rings)};
  }
};

/// `ipc.peer_gone` notification params.
struct PeerGone {
  static constexpr std::string_view kWhat = "ipc.peer_gone params";
  std::uint64_t peer = 0;
  std::string reason;

  static constexpr auto fields() {
    return std::tuple{optional_key("peer", &PeerGone::peer),
                      optional_key("reason", &PeerGone::reason)};
  }
};

/// `ipc.peer_draining` notification params (§3.11): the worker `peer` is stopping. Its
/// client sends it no new calls and closes the channel once its calls there are answered.
struct PeerDraining {
  static constexpr std::string_view kWhat = "ipc.peer_draining params";
  std::uint64_t peer = 0;

  static constexpr auto fields() { return std::tuple{required_key("peer", &PeerDraining::peer)}; }
};

/// `ipc.no_worker` notification params.
struct NoWorker {
  static constexpr std::string_view kWhat = "ipc.no_worker params";
  std::string method;
  std::uint32_t wait_ms = 0;

  static constexpr auto fields() {
    return std::tuple{optional_key("method", &NoWorker::method),
                      optional_key("wait_ms", &NoWorker::wait_ms)};
  }
};

/// `ipc.want` request params (PROTOCOL.md §3.9), client → daemon: "I have a call for `method`
/// and no worker I was introduced to serves it". Answered `{}` once such a worker is introduced,
/// NO_WORKER after the daemon's wait, or METHOD_NOT_FOUND at once when nothing serves it.
struct Want {
  static constexpr std::string_view kWhat = "ipc.want params";
  std::string method;

  static constexpr auto fields() { return std::tuple{required_key("method", &Want::method)}; }
  Status validate() const {
    if (method.empty() || method.size() > kMaxMethodName) {
      return Error{Errc::invalid_field, "ipc.want needs a 'method' of 1 to " +
                                            std::to_string(kMaxMethodName) + " bytes"};
    }
    return {};
  }
};

/// `ipc.shutdown` notification params.
struct Shutdown {
  static constexpr std::string_view kWhat = "ipc.shutdown params";
  std::string reason;

  static constexpr auto fields() { return std::tuple{optional_key("reason", &Shutdown::reason)}; }
};

/// `ipc.cancel` notification params (direct channel).
struct Cancel {
  static constexpr std::string_view kWhat = "ipc.cancel params";
  std::uint64_t id = 0;

  static constexpr auto fields() { return std::tuple{required_key("id", &Cancel::id)}; }
};

/// `ipc.load` notification params (PROTOCOL.md §3.10), worker → daemon: the calls the worker
/// is handling now (queued or running) and the requests it has answered since it started.
/// A worker sends it when a value changed, at most every 100 ms; the daemon's pools scale on it.
struct Load {
  static constexpr std::string_view kWhat = "ipc.load params";
  std::uint32_t in_flight = 0;
  std::uint64_t served = 0;

  static constexpr auto fields() {
    return std::tuple{required_key("in_flight", &Load::in_flight),
                      required_key("served", &Load::served)};
  }
};

}  // namespace fastmd::proto
