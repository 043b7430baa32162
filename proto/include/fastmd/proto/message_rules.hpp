// fastmd/proto/message_rules.hpp — the rules every decoded message obeys, whatever its
// encoding (MessagePack frames in codec.hpp, NDJSON lines in ndjson.hpp; PROTOCOL.md §2):
// a supported version, a known type, an id where the type needs one, a method name of legal
// length, and no result in a failed response. One place, so both decoders accept the same
// messages and report the same error for the same mistake.
#pragma once

#include <string>
#include <string_view>

#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::proto {

/// Which header fields a decoder found, and the raw type name it read.
struct SeenFields {
  std::string_view type_name;
  bool version = false;
  bool type = false;
  bool id = false;
};

/// Checks version, type, id and method of `m` (whose fields the decoder filled) in the
/// protocol's order, and sets `m.type` from the type name.
inline Status check_header_fields(Message& m, const SeenFields& seen) {
  if (!seen.version) return Error{Errc::missing_field, "'version' is required"};
  if (m.version != kProtocolVersion) {
    return Error{Errc::version_mismatch, "protocol version " + std::to_string(m.version) +
                                             " is not supported; this side speaks version " +
                                             std::to_string(kProtocolVersion)};
  }
  if (!seen.type) return Error{Errc::missing_field, "'type' is required"};
  if (seen.type_name == "request") {
    m.type = MessageType::request;
  } else if (seen.type_name == "response") {
    m.type = MessageType::response;
  } else if (seen.type_name == "notification") {
    m.type = MessageType::notification;
  } else {
    return Error{Errc::unknown_type, "unknown message type '" + std::string(seen.type_name) + "'"};
  }
  if (m.type != MessageType::notification && !seen.id) {
    return Error{Errc::missing_field, "'id' is required in a " + std::string(seen.type_name)};
  }
  if (m.type != MessageType::response) {
    if (m.method.empty()) {
      return Error{Errc::missing_field, "'method' is required in a " + std::string(seen.type_name)};
    }
    if (m.method.size() > kMaxMethodName) {
      return Error{Errc::invalid_field,
                   "'method' is longer than " + std::to_string(kMaxMethodName) + " bytes"};
    }
  }
  return {};
}

/// A failed response carries no result (`has_result`: inline or by handle).
inline Status check_error_has_no_result(const Message& m, bool has_result) {
  if (m.error && has_result) {
    return Error{Errc::invalid_field, "a failed response carries no result"};
  }
  return {};
}

}  // namespace fastmd::proto
