// status_fields.hpp — the two shapes of a field in the ipc.status map (PROTOCOL.md §3.4): a
// key with an unsigned number, a key with a string. Shared by status.cpp and the pools' part.
#pragma once

#include <cstdint>
#include <string_view>

#include "fastmd/proto/codec.hpp"

namespace fastmd::daemon::status_fields {

inline void write_uint(proto::Packer& p, std::string_view key, std::uint64_t value) {
  proto::pack_str(p, key);
  p.pack_uint64(value);
}

inline void write_str(proto::Packer& p, std::string_view key, std::string_view value) {
  proto::pack_str(p, key);
  proto::pack_str(p, value);
}

}  // namespace fastmd::daemon::status_fields
