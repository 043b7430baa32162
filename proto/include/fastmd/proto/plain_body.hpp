// fastmd/proto/plain_body.hpp — the decoder's fast path: a frame body in the shape every
// sender of this protocol writes (PROTOCOL.md §2: one map of the known keys, each value of
// its type, as append_frame_prefix packs it), read straight from its bytes, with no
// MessagePack object tree. Anything else — an unknown or non-string key, a value of another
// type or out of range, a limit reached, a truncation, trailing bytes — is not "plain", and
// Decoder::decode hands it to the general path (codec.hpp), which decides every error. So
// this file accepts a subset of what the general path accepts and may refuse nothing: the
// fuzz target and tests/proto/test_plain_body.cpp check that both give the same message.
//
// Why: unpacking into an object tree cost 23% of a worker's CPU and 19% of a C++ client's in
// pipelined 64 B calls (perf, docs/performance.md), most of it the parser's and the zone's
// allocations; a request's body is a dozen tokens.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/proto/message_rules.hpp"

namespace fastmd::proto::detail {

/// What a decoder found in a body, before the checks every message passes
/// (check_header_fields and the rest, Decoder::finish).
struct DecodedFields {
  Message message;
  SeenFields seen;
  bool has_payload = false;
};

/// Reads the MessagePack tokens a plain body uses, each bounds-checked against the body's
/// end; every read returns false on anything unexpected (then nothing more is read).
class PlainTokens {
 public:
  PlainTokens(ByteView bytes, const DecodeLimits& limits)
      : at_(reinterpret_cast<const std::uint8_t*>(bytes.data())),
        end_(at_ + bytes.size()),
        limits_(limits) {}

  bool at_end() const { return at_ == end_; }

  // A positive integer in its unsigned forms (positive fixint, uint 8/16/32/64) that fits `max`.
  bool uint(std::uint64_t max, std::uint64_t& out) {
    if (at_ == end_) return false;
    const std::uint8_t tag = *at_;
    if (tag <= 0x7f) {
      ++at_;
      out = tag;
    } else if (tag >= 0xcc && tag <= 0xcf) {
      ++at_;
      if (!big_endian(std::size_t{1} << (tag - 0xcc), out)) return false;
    } else {
      return false;
    }
    return out <= max;
  }

  // A map header (fixmap, map 16/32) of at most limits.map pairs.
  bool map(std::uint32_t& pairs) {
    if (at_ == end_) return false;
    const std::uint8_t tag = *at_++;
    std::uint64_t count = 0;
    if ((tag & 0xf0) == 0x80) {
      count = tag & 0x0f;
    } else if (tag == 0xde || tag == 0xdf) {
      if (!big_endian(tag == 0xde ? 2 : 4, count)) return false;
    } else {
      return false;
    }
    pairs = static_cast<std::uint32_t>(count);
    return count <= limits_.map;
  }

  // A str (fixstr, str 8/16/32) of at most limits.str bytes, viewed in place.
  bool str(std::string_view& out) {
    if (at_ == end_) return false;
    const std::uint8_t tag = *at_++;
    std::uint64_t length = 0;
    if ((tag & 0xe0) == 0xa0) {
      length = tag & 0x1f;
    } else if (tag >= 0xd9 && tag <= 0xdb) {
      if (!big_endian(std::size_t{1} << (tag - 0xd9), length)) return false;
    } else {
      return false;
    }
    if (length > limits_.str || length > static_cast<std::size_t>(end_ - at_)) return false;
    out = {reinterpret_cast<const char*>(at_), static_cast<std::size_t>(length)};
    at_ += length;
    return true;
  }

  // A bin (8/16/32) of at most limits.max_frame bytes, viewed in place.
  bool bin(ByteView& out) {
    if (at_ == end_) return false;
    const std::uint8_t tag = *at_++;
    if (tag < 0xc4 || tag > 0xc6) return false;
    std::uint64_t length = 0;
    if (!big_endian(std::size_t{1} << (tag - 0xc4), length)) return false;
    if (length > limits_.max_frame || length > static_cast<std::size_t>(end_ - at_)) return false;
    out = {reinterpret_cast<const std::byte*>(at_), static_cast<std::size_t>(length)};
    at_ += length;
    return true;
  }

 private:
  bool big_endian(std::size_t width, std::uint64_t& out) {
    if (width > static_cast<std::size_t>(end_ - at_)) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) out = (out << 8) | at_[i];
    at_ += width;
    return true;
  }

  const std::uint8_t* at_;
  const std::uint8_t* end_;
  const DecodeLimits& limits_;
};

template <class Int>
bool plain_uint(PlainTokens& tokens, Int& out) {
  std::uint64_t value = 0;
  if (!tokens.uint(std::numeric_limits<Int>::max(), value)) return false;
  out = static_cast<Int>(value);
  return true;
}

/// `error`: exactly the known keys `code` and `message`, `code` present.
inline bool plain_error(PlainTokens& tokens, ErrorView& error) {
  std::uint32_t pairs = 0;
  if (!tokens.map(pairs)) return false;
  bool has_code = false;
  for (std::uint32_t i = 0; i < pairs; ++i) {
    std::string_view key;
    if (!tokens.str(key)) return false;
    if (key == "code") {
      std::uint16_t code = 0;
      if (!plain_uint(tokens, code)) return false;
      error.code = static_cast<Errc>(code);
      has_code = true;
    } else if (key == "message") {
      if (!tokens.str(error.message)) return false;
    } else {
      return false;
    }
  }
  return has_code;
}

/// `shm`: exactly the known keys, all four present.
inline bool plain_shm(PlainTokens& tokens, ShmHandle& handle) {
  std::uint32_t pairs = 0;
  if (!tokens.map(pairs)) return false;
  unsigned seen = 0;
  for (std::uint32_t i = 0; i < pairs; ++i) {
    std::string_view key;
    if (!tokens.str(key)) return false;
    bool read = false;
    if (key == "segment") {
      read = plain_uint(tokens, handle.segment);
      seen |= 1;
    } else if (key == "offset") {
      read = plain_uint(tokens, handle.offset);
      seen |= 2;
    } else if (key == "length") {
      read = plain_uint(tokens, handle.length);
      seen |= 4;
    } else if (key == "generation") {
      read = plain_uint(tokens, handle.generation);
      seen |= 8;
    }
    if (!read) return false;
  }
  return seen == 15;
}

/// The fields of `body` when it is plain (see the file comment), else std::nullopt.
inline std::optional<DecodedFields> read_plain_body(ByteView body, const DecodeLimits& limits) {
  // `error` and `shm` are maps in a map: the general path refuses them under a depth below 2.
  if (limits.depth < 2) return std::nullopt;
  PlainTokens tokens(body, limits);
  DecodedFields fields;
  Message& m = fields.message;
  std::uint32_t pairs = 0;
  if (!tokens.map(pairs)) return std::nullopt;
  for (std::uint32_t i = 0; i < pairs; ++i) {
    std::string_view key;
    if (!tokens.str(key)) return std::nullopt;
    bool read = false;
    if (key == "version") {
      read = plain_uint(tokens, m.version);
      fields.seen.version = true;
    } else if (key == "type") {
      read = tokens.str(fields.seen.type_name);
      fields.seen.type = true;
    } else if (key == "id") {
      read = plain_uint(tokens, m.id);
      fields.seen.id = true;
    } else if (key == "method") {
      read = tokens.str(m.method);
    } else if (key == "params" || key == "result") {
      read = tokens.bin(m.payload);
      fields.has_payload = true;
    } else if (key == "error") {
      read = plain_error(tokens, m.error.emplace());
    } else if (key == "shm") {
      read = plain_shm(tokens, m.shm.emplace());
    } else if (key == "fds") {
      read = plain_uint(tokens, m.fds) && m.fds <= kMaxFdsPerFrame;
    }
    if (!read) return std::nullopt;
  }
  if (!tokens.at_end()) return std::nullopt;
  return fields;
}

}  // namespace fastmd::proto::detail
