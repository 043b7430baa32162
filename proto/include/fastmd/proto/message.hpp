// fastmd/proto/message.hpp — the FastMessage of proto/PROTOCOL.md §2, as a view type.
// A decoded Message points into the frame it came from (no copies); an encoded one
// points into the caller's memory until it is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "fastmd/proto/error.hpp"
#include "fastmd/proto/limits.hpp"

namespace fastmd::proto {

using ByteView = std::span<const std::byte>;

inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}
inline std::string_view as_chars(ByteView bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

enum class MessageType : std::uint8_t { request, response, notification };

constexpr std::string_view message_type_name(MessageType type) {
  switch (type) {
    case MessageType::request:
      return "request";
    case MessageType::response:
      return "response";
    case MessageType::notification:
      return "notification";
  }
  return "?";
}

/// `{segment, offset, length, generation}`: `length` bytes at `offset` of the sender's segment.
struct ShmHandle {
  std::uint32_t segment = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint32_t generation = 0;

  bool attached_memfd() const { return segment == kAttachedMemfdSegment; }
  friend bool operator==(const ShmHandle&, const ShmHandle&) = default;
};

/// The `error` of a failed response. `code` may be a value this version does not know.
struct ErrorView {
  Errc code = Errc::internal;
  std::string_view message;
};

struct Message {
  std::uint32_t version = kProtocolVersion;
  MessageType type = MessageType::request;
  std::uint64_t id = 0;
  std::string_view method;         // request, notification
  std::optional<ErrorView> error;  // failed response
  std::optional<ShmHandle> shm;    // payload by reference instead of inline
  std::uint32_t fds = 0;           // fds attached with SCM_RIGHTS
  ByteView payload;                // `params` (request, notification) or `result` (response)

  bool is_request() const { return type == MessageType::request; }
  bool is_response() const { return type == MessageType::response; }
  bool is_notification() const { return type == MessageType::notification; }

  static Message request(std::uint64_t id, std::string_view method, ByteView params = {}) {
    Message m;
    m.type = MessageType::request;
    m.id = id;
    m.method = method;
    m.payload = params;
    return m;
  }
  static Message response(std::uint64_t id, ByteView result = {}) {
    Message m;
    m.type = MessageType::response;
    m.id = id;
    m.payload = result;
    return m;
  }
  static Message failure(std::uint64_t id, Errc code, std::string_view message) {
    Message m;
    m.type = MessageType::response;
    m.id = id;
    m.error = ErrorView{code, message};
    return m;
  }
  static Message notification(std::string_view method, ByteView params = {}) {
    Message m;
    m.type = MessageType::notification;
    m.method = method;
    m.payload = params;
    return m;
  }
};

}  // namespace fastmd::proto
