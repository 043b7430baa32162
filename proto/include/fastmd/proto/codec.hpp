// fastmd/proto/codec.hpp — where a frame is encoded and decoded. Decoding is hardened:
// every unpack runs under DecodeLimits, every msgpack exception becomes an Errc,
// unknown keys are ignored and missing required keys rejected (PROTOCOL.md §1–2).
#pragma once

#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/proto/message_rules.hpp"
#include "fastmd/proto/plain_body.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::proto {

using ByteBuffer = std::vector<std::byte>;

/// Adapts a ByteBuffer to the stream interface msgpack::packer writes to.
struct ByteSink {
  ByteBuffer& out;
  void write(const char* data, std::size_t size) {
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    out.insert(out.end(), bytes, bytes + size);
  }
};
using Packer = msgpack::packer<ByteSink>;

template <class Stream>
void pack_str(msgpack::packer<Stream>& packer, std::string_view text) {
  packer.pack_str(static_cast<std::uint32_t>(text.size()));
  packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

namespace detail {

/// Writes into memory sized up front, for a frame's header, whose largest size is known: a
/// token then costs a copy, where ByteSink's vector insert cost 4-5% of a pipelined 64 B
/// call's CPU on each side (perf). Throws std::length_error rather than write past `end`.
class BoundedSink {
 public:
  BoundedSink(std::byte* at, const std::byte* end) : at_(at), end_(end) {}
  void write(const char* data, std::size_t size) {
    if (size > static_cast<std::size_t>(end_ - at_)) {
      throw std::length_error("a frame header outgrew its bound");
    }
    std::memcpy(at_, data, size);
    at_ += size;
  }
  std::byte* at() const { return at_; }

 private:
  std::byte* at_;
  const std::byte* end_;
};

/// The most bytes a frame header takes besides its method name and error message: every key,
/// each integer at its widest, the longest type name and the str/bin headers (171).
inline constexpr std::size_t kHeaderFixedMax = 192;

}  // namespace detail

inline void store_u32_le(std::byte* at, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
}
inline std::uint32_t load_u32_le(const std::byte* at) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<std::uint32_t>(at[i]) << (8 * i);
  return value;
}

/// Appends the frame of `m` (length prefix and body) to `out`, except the bytes of its inline
/// payload, which the caller sends right after (e.g. with writev, straight from its memory).
/// The length prefix already counts them. Returns the number of payload bytes to follow.
/// Throws std::length_error if the body would not fit a u32 length (callers route such
/// payloads through shared memory long before).
inline std::size_t append_frame_prefix(const Message& m, ByteBuffer& out) {
  const std::size_t frame_start = out.size();
  out.resize(frame_start + kFrameHeaderBytes + detail::kHeaderFixedMax + m.method.size() +
             (m.error ? m.error->message.size() : 0));
  detail::BoundedSink sink(out.data() + frame_start + kFrameHeaderBytes, out.data() + out.size());
  msgpack::packer<detail::BoundedSink> packer(sink);

  const bool has_id = m.type != MessageType::notification;
  const bool has_method = m.type != MessageType::response;
  const bool has_payload = !m.payload.empty();
  std::uint32_t keys = 2 + (has_id ? 1 : 0) + (has_method ? 1 : 0) + (m.error ? 1 : 0) +
                       (m.shm ? 1 : 0) + (m.fds ? 1 : 0) + (has_payload ? 1 : 0);
  packer.pack_map(keys);
  pack_str(packer, "version");
  packer.pack_uint32(m.version);
  pack_str(packer, "type");
  pack_str(packer, message_type_name(m.type));
  if (has_id) {
    pack_str(packer, "id");
    packer.pack_uint64(m.id);
  }
  if (has_method) {
    pack_str(packer, "method");
    pack_str(packer, m.method);
  }
  if (m.error) {
    pack_str(packer, "error");
    packer.pack_map(2);
    pack_str(packer, "code");
    packer.pack_uint16(static_cast<std::uint16_t>(m.error->code));
    pack_str(packer, "message");
    pack_str(packer, m.error->message);
  }
  if (m.shm) {
    pack_str(packer, "shm");
    packer.pack_map(4);
    pack_str(packer, "segment");
    packer.pack_uint32(m.shm->segment);
    pack_str(packer, "offset");
    packer.pack_uint64(m.shm->offset);
    pack_str(packer, "length");
    packer.pack_uint64(m.shm->length);
    pack_str(packer, "generation");
    packer.pack_uint32(m.shm->generation);
  }
  if (m.fds) {
    pack_str(packer, "fds");
    packer.pack_uint32(m.fds);
  }
  if (has_payload) {
    pack_str(packer, m.type == MessageType::response ? "result" : "params");
    if (m.payload.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw std::length_error("inline payload exceeds a MessagePack bin");
    }
    packer.pack_bin(static_cast<std::uint32_t>(m.payload.size()));
  }
  out.resize(static_cast<std::size_t>(sink.at() - out.data()));
  const std::size_t body = out.size() - frame_start - kFrameHeaderBytes + m.payload.size();
  if (body > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("frame body exceeds the 4-byte length prefix");
  }
  store_u32_le(out.data() + frame_start, static_cast<std::uint32_t>(body));
  return m.payload.size();
}

/// Appends the whole frame of `m` (length prefix, body and inline payload) to `out`.
inline void append_frame(const Message& m, ByteBuffer& out) {
  append_frame_prefix(m, out);
  out.insert(out.end(), m.payload.begin(), m.payload.end());
}

/// Whether a frame's 4-byte length prefix is acceptable: not zero, and at most `max_frame`.
/// (check_frame_length says why not; this is the test alone, for a reader's per-frame scan.)
constexpr bool frame_length_ok(std::uint32_t length, std::uint32_t max_frame) {
  return length != 0 && length <= max_frame;
}

/// Checks a frame's 4-byte length prefix against `max_frame`, before anything is allocated.
inline Result<std::uint32_t> check_frame_length(std::uint32_t length, std::uint32_t max_frame) {
  if (frame_length_ok(length, max_frame)) return length;
  if (length == 0) return Error{Errc::frame_empty, "frame length prefix is zero"};
  return Error{Errc::frame_too_large, "frame of " + std::to_string(length) +
                                          " bytes exceeds the maximum of " +
                                          std::to_string(max_frame)};
}

namespace detail {

// Strings and bins are referenced in place (zero copy), never copied into the zone.
inline bool reference_in_place(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

// "'<field>'<rest>", built by appending: GCC 12's `"'" + std::string(field)` (an insert at
// the front) trips a false -Wrestrict at -O3 in every program that inlines it.
inline std::string quoted_field(std::string_view field, std::string_view rest) {
  std::string text;
  text.reserve(field.size() + rest.size() + 2);
  text.append("'").append(field).append("'").append(rest);
  return text;
}

inline Error wrong_type(std::string_view field, std::string_view expected) {
  return Error{Errc::wrong_field_type, quoted_field(field, " must be ").append(expected)};
}

}  // namespace detail

/// Reads a MessagePack unsigned integer that must fit in `Int`.
template <class Int>
Result<Int> read_uint(const msgpack::object& value, std::string_view field) {
  if (value.type != msgpack::type::POSITIVE_INTEGER) {
    return detail::wrong_type(field, "an unsigned integer");
  }
  if (value.via.u64 > std::numeric_limits<Int>::max()) {
    return Error{Errc::invalid_field, detail::quoted_field(field, " is out of range")};
  }
  return static_cast<Int>(value.via.u64);
}

inline Result<std::string_view> read_str(const msgpack::object& value, std::string_view field) {
  if (value.type != msgpack::type::STR) return detail::wrong_type(field, "a string");
  return std::string_view{value.via.str.ptr, value.via.str.size};
}

inline Result<ByteView> read_bin(const msgpack::object& value, std::string_view field) {
  if (value.type != msgpack::type::BIN) return detail::wrong_type(field, "binary (bin)");
  return ByteView{reinterpret_cast<const std::byte*>(value.via.bin.ptr), value.via.bin.size};
}

/// Calls `fn(key, value)` for each string-keyed pair of a map (other keys are ignored as
/// unknown); stops at the first error `fn` returns.
template <class Fn>
Status for_each_field(const msgpack::object& map, std::string_view what, Fn&& fn) {
  if (map.type != msgpack::type::MAP) {
    return Error{Errc::not_a_map, std::string(what) + " must be a MessagePack map"};
  }
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const msgpack::object_kv& kv = map.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) continue;
    Status status = fn(std::string_view{kv.key.via.str.ptr, kv.key.via.str.size}, kv.val);
    if (!status) return status;
  }
  return {};
}

/// Decodes frame bodies and nested control maps. Reuses one zone, so the objects of a
/// decode live until the next one; strings and bins point into the caller's bytes.
class Decoder {
 public:
  explicit Decoder(DecodeLimits limits = DecodeLimits::control()) : limits_(limits) {}

  const DecodeLimits& limits() const { return limits_; }

  /// Unpacks exactly one MessagePack value from `bytes` under the limits.
  Result<msgpack::object> unpack(ByteView bytes) {
    zone_.clear();
    std::size_t offset = 0;
    bool referenced = false;
    const msgpack::unpack_limit limit(limits_.array, limits_.map, limits_.str, limits_.max_frame,
                                      limits_.ext, limits_.depth);
    msgpack::object object;
    try {
      object = msgpack::unpack(zone_, reinterpret_cast<const char*>(bytes.data()), bytes.size(),
                               offset, referenced, &detail::reference_in_place, nullptr, limit);
    } catch (const msgpack::size_overflow& e) {
      return Error{Errc::limit_exceeded, std::string("unpack limit exceeded: ") + e.what()};
    } catch (const msgpack::insufficient_bytes&) {
      return Error{Errc::malformed, "truncated MessagePack value"};
    } catch (const msgpack::unpack_error& e) {
      return Error{Errc::malformed, std::string("invalid MessagePack: ") + e.what()};
    } catch (const std::bad_alloc&) {
      return Error{Errc::limit_exceeded, "MessagePack value too large to unpack"};
    } catch (const std::exception& e) {
      return Error{Errc::malformed, std::string("invalid MessagePack: ") + e.what()};
    }
    if (offset != bytes.size()) {
      return Error{Errc::trailing_bytes,
                   std::to_string(bytes.size() - offset) + " bytes follow the MessagePack value"};
    }
    return object;
  }

  /// Decodes one whole frame held in memory (length prefix and body), as in the test
  /// vectors and the fuzz target; a prefix that promises more bytes than are there is MALFORMED.
  Result<Message> decode_frame(ByteView frame) {
    if (frame.size() < kFrameHeaderBytes) {
      return Error{Errc::malformed, "frame shorter than its 4-byte length prefix"};
    }
    auto length = check_frame_length(load_u32_le(frame.data()), limits_.max_frame);
    if (!length) return length.error();
    if (frame.size() - kFrameHeaderBytes != *length) {
      return Error{Errc::malformed,
                   "frame length prefix says " + std::to_string(*length) + " bytes but " +
                       std::to_string(frame.size() - kFrameHeaderBytes) + " follow"};
    }
    return decode(frame.subspan(kFrameHeaderBytes));
  }

  /// Decodes one frame body (without its length prefix) into a Message viewing `body`.
  Result<Message> decode(ByteView body) {
    if (body.size() <= limits_.max_frame) {
      if (auto plain = detail::read_plain_body(body, limits_)) return finish(*plain);
    }
    return decode_unpacked(body);
  }

  /// decode() by the general path alone: an object tree, for every body and every error.
  /// decode() gives the same result for each body, answering plain ones without it
  /// (plain_body.hpp); the fuzz target and tests/proto/test_plain_body.cpp compare the two.
  Result<Message> decode_unpacked(ByteView body) {
    if (body.size() > limits_.max_frame) {
      return Error{Errc::frame_too_large, "frame of " + std::to_string(body.size()) +
                                              " bytes exceeds the maximum of " +
                                              std::to_string(limits_.max_frame)};
    }
    Result<msgpack::object> object = unpack(body);
    if (!object) return object.error();
    auto fields = read_fields(*object);
    if (!fields) return fields.error();
    return finish(*fields);
  }

 private:
  static Result<detail::DecodedFields> read_fields(const msgpack::object& map) {
    detail::DecodedFields fields;
    Message& m = fields.message;
    SeenFields& seen = fields.seen;
    bool& has_payload = fields.has_payload;
    Status status = for_each_field(
        map, "a message", [&](std::string_view key, const msgpack::object& value) -> Status {
          if (key == "version") {
            auto v = read_uint<std::uint32_t>(value, key);
            if (!v) return v.error();
            m.version = *v;
            seen.version = true;
          } else if (key == "type") {
            auto v = read_str(value, key);
            if (!v) return v.error();
            seen.type_name = *v;
            seen.type = true;
          } else if (key == "id") {
            auto v = read_uint<std::uint64_t>(value, key);
            if (!v) return v.error();
            m.id = *v;
            seen.id = true;
          } else if (key == "method") {
            auto v = read_str(value, key);
            if (!v) return v.error();
            m.method = *v;
          } else if (key == "params" || key == "result") {
            auto v = read_bin(value, key);
            if (!v) return v.error();
            m.payload = *v;
            has_payload = true;
          } else if (key == "error") {
            auto v = decode_error(value);
            if (!v) return v.error();
            m.error = *v;
          } else if (key == "shm") {
            auto v = decode_shm(value);
            if (!v) return v.error();
            m.shm = *v;
          } else if (key == "fds") {
            auto v = read_uint<std::uint32_t>(value, key);
            if (!v) return v.error();
            if (*v > kMaxFdsPerFrame) {
              return Error{Errc::invalid_field, "'fds' exceeds " + std::to_string(kMaxFdsPerFrame)};
            }
            m.fds = *v;
          }
          return {};
        });
    if (!status) return status.error();
    return fields;
  }

  // The checks every decoded message passes, whichever path read its fields.
  static Result<Message> finish(detail::DecodedFields& fields) {
    Message& m = fields.message;
    const bool has_payload = fields.has_payload;
    if (Status header = check_header_fields(m, fields.seen); !header) return header.error();
    if (has_payload && m.shm) {
      return Error{Errc::invalid_field, "a message carries either an inline payload or 'shm'"};
    }
    if (Status result = check_error_has_no_result(m, has_payload || m.shm); !result) {
      return result.error();
    }
    return m;
  }

  static Result<ErrorView> decode_error(const msgpack::object& map) {
    ErrorView error;
    bool has_code = false;
    Status status = for_each_field(
        map, "'error'", [&](std::string_view key, const msgpack::object& value) -> Status {
          if (key == "code") {
            auto v = read_uint<std::uint16_t>(value, "error.code");
            if (!v) return v.error();
            error.code = static_cast<Errc>(*v);
            has_code = true;
          } else if (key == "message") {
            auto v = read_str(value, "error.message");
            if (!v) return v.error();
            error.message = *v;
          }
          return {};
        });
    if (!status) return status.error();
    if (!has_code) return Error{Errc::missing_field, "'error.code' is required"};
    return error;
  }

  static Result<ShmHandle> decode_shm(const msgpack::object& map) {
    ShmHandle handle;
    unsigned seen = 0;
    Status status = for_each_field(
        map, "'shm'", [&](std::string_view key, const msgpack::object& value) -> Status {
          if (key == "segment") {
            auto v = read_uint<std::uint32_t>(value, "shm.segment");
            if (!v) return v.error();
            handle.segment = *v;
            seen |= 1;
          } else if (key == "offset") {
            auto v = read_uint<std::uint64_t>(value, "shm.offset");
            if (!v) return v.error();
            handle.offset = *v;
            seen |= 2;
          } else if (key == "length") {
            auto v = read_uint<std::uint64_t>(value, "shm.length");
            if (!v) return v.error();
            handle.length = *v;
            seen |= 4;
          } else if (key == "generation") {
            auto v = read_uint<std::uint32_t>(value, "shm.generation");
            if (!v) return v.error();
            handle.generation = *v;
            seen |= 8;
          }
          return {};
        });
    if (!status) return status.error();
    if (seen != 15) {
      return Error{Errc::missing_field,
                   "'shm' needs 'segment', 'offset', 'length' and 'generation'"};
    }
    return handle;
  }

  DecodeLimits limits_;
  msgpack::zone zone_;
};

}  // namespace fastmd::proto
