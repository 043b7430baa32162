// worker_load_status.hpp — reads a worker's `load` entry (PROTOCOL.md §3.4, §3.10) out of an
// ipc.status reply, for tests that watch what workers report.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "raw_peer.hpp"

namespace fastmd::test {

struct WorkerLoadEntry {
  std::uint64_t in_flight = 0;
  std::uint64_t served = 0;
  std::uint64_t reports = 0;
  std::uint64_t reported_ms_ago = 0;
  std::uint64_t changed_ms_ago = 0;
};

namespace detail {

inline const msgpack::object* member(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& kv = map.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
      return &kv.val;
    }
  }
  return nullptr;
}

inline std::uint64_t number(const msgpack::object& map, std::string_view key) {
  const msgpack::object* value = member(map, key);
  if (value == nullptr || value->type != msgpack::type::POSITIVE_INTEGER) {
    throw std::runtime_error("status: load." + std::string(key) + " is not a number");
  }
  return value->via.u64;
}

}  // namespace detail

/// The `load` of the worker session named `name` in an ipc.status reply; std::nullopt when no
/// such worker is listed. Throws when the entry is malformed.
inline std::optional<WorkerLoadEntry> worker_load(const Received& status, std::string_view name) {
  proto::Decoder decoder;
  auto root = decoder.unpack(status.message.payload);
  if (!root) throw std::runtime_error("status: " + root.error().to_string());
  const msgpack::object* sessions = detail::member(*root, "sessions");
  if (sessions == nullptr || sessions->type != msgpack::type::ARRAY) return std::nullopt;
  for (std::uint32_t i = 0; i < sessions->via.array.size; ++i) {
    const msgpack::object& session = sessions->via.array.ptr[i];
    const msgpack::object* session_name = detail::member(session, "name");
    if (session_name == nullptr || session_name->type != msgpack::type::STR ||
        std::string_view(session_name->via.str.ptr, session_name->via.str.size) != name) {
      continue;
    }
    const msgpack::object* load = detail::member(session, "load");
    if (load == nullptr) return std::nullopt;
    return WorkerLoadEntry{detail::number(*load, "in_flight"), detail::number(*load, "served"),
                           detail::number(*load, "reports"),
                           detail::number(*load, "reported_ms_ago"),
                           detail::number(*load, "changed_ms_ago")};
  }
  return std::nullopt;
}

}  // namespace fastmd::test
