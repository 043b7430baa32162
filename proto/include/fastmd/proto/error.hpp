// fastmd/proto/error.hpp — the one error-code enum of the protocol, with names and
// messages a person can act on. Codes and names are part of the wire protocol
// (proto/PROTOCOL.md §6): never renumber, only add.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastmd::proto {

enum class Errc : std::uint16_t {
  ok = 0,
  frame_too_large = 100,
  frame_empty = 101,
  malformed = 102,
  limit_exceeded = 103,
  not_a_map = 104,
  missing_field = 105,
  wrong_field_type = 106,
  version_mismatch = 107,
  unknown_type = 108,
  trailing_bytes = 109,
  unexpected_message = 110,
  fd_mismatch = 111,
  invalid_field = 112,
  permission_denied = 200,
  handshake_timeout = 201,
  quota_exceeded = 202,
  daemon_shutting_down = 203,
  no_worker = 204,
  peer_gone = 205,
  daemon_unreachable = 206,
  worker_stopping = 207,
  method_not_found = 300,
  handler_failed = 301,
  timeout = 302,
  cancelled = 303,
  payload_too_large = 304,
  shm_unknown_segment = 400,
  shm_out_of_bounds = 401,
  shm_stale_generation = 402,
  shm_no_space = 403,
  shm_bad_fd = 404,
  shm_bad_block = 405,
  shm_bad_ring = 406,
  internal = 500,
  io_error = 501,
};

struct ErrcInfo {
  Errc code;
  std::string_view name;     // stable, upper case: "FRAME_TOO_LARGE"
  std::string_view meaning;  // one sentence for a person
};

inline constexpr ErrcInfo kErrcTable[] = {
    {Errc::ok, "OK", "success"},
    {Errc::frame_too_large, "FRAME_TOO_LARGE",
     "a frame's length prefix exceeds the receiver's maximum; large payloads go through shared "
     "memory"},
    {Errc::frame_empty, "FRAME_EMPTY", "a frame's length prefix is zero"},
    {Errc::malformed, "MALFORMED",
     "the frame body is not valid MessagePack (truncated or corrupt)"},
    {Errc::limit_exceeded, "LIMIT_EXCEEDED",
     "the frame body exceeds a MessagePack unpack limit (depth, array, map, str, bin or ext size)"},
    {Errc::not_a_map, "NOT_A_MAP", "the frame body is not a MessagePack map"},
    {Errc::missing_field, "MISSING_FIELD", "a required key is absent"},
    {Errc::wrong_field_type, "WRONG_FIELD_TYPE", "a key has the wrong MessagePack type"},
    {Errc::version_mismatch, "VERSION_MISMATCH",
     "the peer speaks another protocol version; upgrade the older side"},
    {Errc::unknown_type, "UNKNOWN_TYPE", "'type' is not request, response or notification"},
    {Errc::trailing_bytes, "TRAILING_BYTES",
     "the frame body holds more than one MessagePack value"},
    {Errc::unexpected_message, "UNEXPECTED_MESSAGE",
     "a valid message that is wrong for the connection's state"},
    {Errc::fd_mismatch, "FD_MISMATCH", "the fds attached to a frame do not match its 'fds' field"},
    {Errc::invalid_field, "INVALID_FIELD", "a key has a value out of range"},
    {Errc::permission_denied, "PERMISSION_DENIED",
     "the peer's uid or gid is not allowed to use this daemon"},
    {Errc::handshake_timeout, "HANDSHAKE_TIMEOUT", "the handshake was not completed in time"},
    {Errc::quota_exceeded, "QUOTA_EXCEEDED", "a per-uid or per-session quota is used up"},
    {Errc::daemon_shutting_down, "DAEMON_SHUTTING_DOWN",
     "the daemon is draining; retry against its successor"},
    {Errc::no_worker, "NO_WORKER",
     "no live worker serves the method, and none registered within the wait"},
    {Errc::peer_gone, "PEER_GONE",
     "the worker ended while the call was in flight and the call is not idempotent"},
    {Errc::daemon_unreachable, "DAEMON_UNREACHABLE",
     "the daemon's socket cannot be reached (not running, wrong path or permissions)"},
    {Errc::worker_stopping, "WORKER_STOPPING",
     "the worker is stopping and did not run the call; send it to another worker"},
    {Errc::method_not_found, "METHOD_NOT_FOUND", "the worker does not serve that method"},
    {Errc::handler_failed, "HANDLER_FAILED", "the worker's handler failed"},
    {Errc::timeout, "TIMEOUT", "the call's deadline passed"},
    {Errc::cancelled, "CANCELLED", "the caller cancelled the call"},
    {Errc::payload_too_large, "PAYLOAD_TOO_LARGE",
     "the payload exceeds every way this peer can send it"},
    {Errc::shm_unknown_segment, "SHM_UNKNOWN_SEGMENT",
     "a shared-memory handle names a segment this peer was not given"},
    {Errc::shm_out_of_bounds, "SHM_OUT_OF_BOUNDS",
     "a shared-memory handle lies outside its segment or overflows"},
    {Errc::shm_stale_generation, "SHM_STALE_GENERATION",
     "a shared-memory handle names a recycled segment"},
    {Errc::shm_no_space, "SHM_NO_SPACE", "no space in the shared-memory segment within the wait"},
    {Errc::shm_bad_fd, "SHM_BAD_FD",
     "a received memory fd is not a sealed memfd or shm object of the claimed size"},
    {Errc::shm_bad_block, "SHM_BAD_BLOCK", "the block header at a handle does not match it"},
    {Errc::shm_bad_ring, "SHM_BAD_RING",
     "a direct channel's ring holds an index or record outside its bounds"},
    {Errc::internal, "INTERNAL", "an internal error: please report it with the log"},
    {Errc::io_error, "IO_ERROR", "a system call failed"},
};

constexpr const ErrcInfo* find_errc(std::uint64_t code) {
  for (const auto& info : kErrcTable) {
    if (static_cast<std::uint64_t>(info.code) == code) return &info;
  }
  return nullptr;
}

constexpr std::string_view errc_name(Errc code) {
  const ErrcInfo* info = find_errc(static_cast<std::uint64_t>(code));
  return info ? info->name : std::string_view{"UNKNOWN_ERROR"};
}

constexpr std::string_view errc_meaning(Errc code) {
  const ErrcInfo* info = find_errc(static_cast<std::uint64_t>(code));
  return info ? info->meaning : std::string_view{"an error code this version does not know"};
}

/// Looks an error up by its stable name ("FRAME_TOO_LARGE"); Errc::internal if unknown.
constexpr Errc errc_from_name(std::string_view name) {
  for (const auto& info : kErrcTable) {
    if (info.name == name) return info.code;
  }
  return Errc::internal;
}

/// An error code with a specific message ("frame of 70000 bytes exceeds the maximum of 65536").
struct Error {
  Errc code = Errc::internal;
  std::string message;

  Error() = default;
  Error(Errc c, std::string m) : code(c), message(std::move(m)) {}
  explicit Error(Errc c) : code(c), message(errc_meaning(c)) {}

  /// "FRAME_TOO_LARGE: frame of 70000 bytes exceeds the maximum of 65536"
  std::string to_string() const {
    std::string out{errc_name(code)};
    out += ": ";
    out += message;
    return out;
  }
};

/// The one text of METHOD_NOT_FOUND on every transport (PROTOCOL.md §3.9, §5.2, §8): "no worker
/// serves method 'trasnform' (served: echo, length, transform)", or "(served: none)". The
/// daemon passes the methods of its live workers and pools, a worker or legacy server its own;
/// they are listed sorted and once each, so one set of methods reads the same everywhere.
inline std::string method_not_found_message(std::string_view method,
                                            const std::vector<std::string>& served) {
  std::vector<std::string> names = served;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string out = "no worker serves method '";
  out += method;
  out += "' (served: ";
  if (names.empty()) out += "none";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) out += ", ";
    out += names[i];
  }
  out += ")";
  return out;
}

}  // namespace fastmd::proto
