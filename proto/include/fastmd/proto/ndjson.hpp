// fastmd/proto/ndjson.hpp — the legacy NDJSON form of the messages (PROTOCOL.md §8): one JSON
// object per line, same keys as the frames, payloads as JSON strings (or base64 when they are
// not UTF-8). Encoding writes with a reused RapidJSON Writer into the caller's reused buffer;
// decoding parses a line in place (RapidJSON SAX, insitu), so the decoded Message views the
// line's own bytes: no DOM, no copy of the payload. Every malformed line is a proto::Error.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fastmd/proto/control.hpp"
#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/proto/message_rules.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::proto::ndjson {

/// Lines longer than this are FRAME_TOO_LARGE (PROTOCOL.md §8), unless configured otherwise.
inline constexpr std::size_t kDefaultMaxLine = std::size_t{1} << 30;

/// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF).
inline bool is_valid_utf8(ByteView bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned char* const end = p + bytes.size();
  while (p < end) {
    // ASCII runs (most Markdown) are checked eight bytes at a time.
    while (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p == end) break;
    const unsigned char lead = *p;
    if (lead < 0x80) {
      ++p;
      continue;
    }
    std::size_t length;
    unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < length) return false;
    if (p[1] < low || p[1] > high) return false;
    for (std::size_t i = 2; i < length; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
    }
    p += length;
  }
  return true;
}

namespace detail {

inline constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0–63 for alphabet characters, 64 for '=', 255 for anything else.
inline constexpr std::array<unsigned char, 256> kBase64Values = [] {
  std::array<unsigned char, 256> values{};
  values.fill(255);
  for (unsigned char i = 0; i < 64; ++i) values[static_cast<unsigned char>(kBase64Alphabet[i])] = i;
  values['='] = 64;
  return values;
}();

}  // namespace detail

/// Appends the standard base64 (RFC 4648, padded) of `bytes` to `out`.
inline void append_base64(ByteView bytes, std::string& out) {
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  const std::size_t start = out.size();
  out.resize(start + (n + 2) / 3 * 4);
  char* o = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v =
        (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    *o++ = detail::kBase64Alphabet[(v >> 18) & 63];
    *o++ = detail::kBase64Alphabet[(v >> 12) & 63];
    *o++ = detail::kBase64Alphabet[(v >> 6) & 63];
    *o++ = detail::kBase64Alphabet[v & 63];
  }
  if (i < n) {
    const bool two = i + 1 < n;
    const std::uint32_t v =
        (std::uint32_t{in[i]} << 16) | (two ? std::uint32_t{in[i + 1]} << 8 : 0);
    *o++ = detail::kBase64Alphabet[(v >> 18) & 63];
    *o++ = detail::kBase64Alphabet[(v >> 12) & 63];
    *o++ = two ? detail::kBase64Alphabet[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
}

/// Decodes standard padded base64 in place (the decoded bytes overwrite the start of `text`);
/// returns the decoded length, or std::nullopt when `text` is not canonical base64.
inline std::optional<std::size_t> decode_base64_in_place(std::span<char> text) {
  if (text.size() % 4 != 0) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto* out = reinterpret_cast<unsigned char*>(text.data());
  std::size_t written = 0;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const unsigned char a = detail::kBase64Values[in[i]], b = detail::kBase64Values[in[i + 1]],
                        c = detail::kBase64Values[in[i + 2]], d = detail::kBase64Values[in[i + 3]];
    const bool last = i + 4 == text.size();
    if (a > 63 || b > 63) return std::nullopt;
    if (c == 64) {  // "xx==": one byte; the unused bits must be zero
      if (!last || d != 64 || (b & 15)) return std::nullopt;
      out[written++] = static_cast<unsigned char>((a << 2) | (b >> 4));
    } else if (d == 64) {  // "xxx=": two bytes
      if (!last || c > 63 || (c & 3)) return std::nullopt;
      out[written++] = static_cast<unsigned char>((a << 2) | (b >> 4));
      out[written++] = static_cast<unsigned char>((b << 4) | (c >> 2));
    } else {
      if (c > 63 || d > 63) return std::nullopt;
      out[written++] = static_cast<unsigned char>((a << 2) | (b >> 4));
      out[written++] = static_cast<unsigned char>((b << 4) | (c >> 2));
      out[written++] = static_cast<unsigned char>((c << 6) | d);
    }
  }
  return written;
}

/// The buffer lines are encoded into; reuse one (Clear() keeps its memory).
using LineBuffer = rapidjson::StringBuffer;

/// Encodes messages as NDJSON lines. Holds a reused Writer and base64 scratch, so one Encoder
/// per thread encodes without allocating once its buffers are warm.
class Encoder {
 public:
  /// Appends the line of `m`, '\n' included, to `out`. Keys come in PROTOCOL.md §2 order; the
  /// payload is `params`/`result` when it is UTF-8, else `params_base64`/`result_base64`.
  /// Throws std::invalid_argument for a message NDJSON cannot carry (shm, fds) and
  /// std::length_error for a payload over 4 GiB.
  void append_line(const Message& m, LineBuffer& out) {
    if (m.shm || m.fds) {
      throw std::invalid_argument("NDJSON carries no shared-memory handles or fds");
    }
    writer_.Reset(out);
    writer_.StartObject();
    key("version");
    writer_.Uint(m.version);
    key("type");
    string(message_type_name(m.type));
    if (m.type != MessageType::notification) {
      key("id");
      writer_.Uint64(m.id);
    }
    if (m.type != MessageType::response) {
      key("method");
      string(m.method);
    }
    if (m.error) {
      key("error");
      writer_.StartObject();
      key("code");
      writer_.Uint(static_cast<unsigned>(m.error->code));
      key("message");
      string(m.error->message);
      writer_.EndObject();
    }
    if (!m.payload.empty()) {
      const bool response = m.type == MessageType::response;
      if (is_valid_utf8(m.payload)) {
        key(response ? "result" : "params");
        string(as_chars(m.payload));
      } else {
        key(response ? "result_base64" : "params_base64");
        base64_.assign(1, '"');
        append_base64(m.payload, base64_);
        base64_ += '"';
        writer_.RawValue(base64_.data(), base64_.size(), rapidjson::kStringType);
      }
    }
    writer_.EndObject();
    out.Put('\n');
  }

 private:
  void key(std::string_view name) {
    writer_.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  }
  void string(std::string_view text) {
    if (text.size() > std::numeric_limits<rapidjson::SizeType>::max()) {
      throw std::length_error("an NDJSON string is limited to 4 GiB");
    }
    writer_.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  }

  rapidjson::Writer<LineBuffer> writer_;
  std::string base64_;
};

/// The text of an `ipc.cancel` notification's payload in NDJSON: `{"id":N}` (PROTOCOL.md §8).
inline std::string cancel_params(std::uint64_t id) {
  return "{\"id\":" + std::to_string(id) + "}";
}

namespace detail {

// The keys of a message; `unknown` ones are skipped (forward compatibility).
enum class Key : std::uint8_t {
  unknown,
  version,
  type,
  id,
  method,
  error,
  params,
  result,
  params_base64,
  result_base64,
  shm,
  fds,
};

inline Key key_of(std::string_view name) {
  static constexpr std::pair<std::string_view, Key> kKeys[] = {
      {"version", Key::version},
      {"type", Key::type},
      {"id", Key::id},
      {"method", Key::method},
      {"error", Key::error},
      {"params", Key::params},
      {"result", Key::result},
      {"params_base64", Key::params_base64},
      {"result_base64", Key::result_base64},
      {"shm", Key::shm},
      {"fds", Key::fds},
  };
  for (const auto& [text, key] : kKeys) {
    if (text == name) return key;
  }
  return Key::unknown;
}

// The RapidJSON SAX handler that fills a Message from one line. Field errors are recorded
// (the first one wins) and parsing goes on, so the id of a bad request is still learnt and the
// request can be answered; limit violations stop the parse at once.
class LineHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, LineHandler> {
 public:
  explicit LineHandler(const DecodeLimits& limits) : limits_(limits) {}

  Message message;
  std::optional<Error> field_error;  // first field error
  std::optional<Error> limit_error;  // set when the handler stopped the parse
  SeenFields seen;
  bool has_text_payload = false, has_base64_payload = false;

  bool Null() { return scalar("null"); }
  bool Bool(bool) { return scalar("a boolean"); }
  bool Int(int value) {
    return value >= 0 ? Uint64(static_cast<unsigned>(value)) : scalar("a negative number");
  }
  bool Int64(std::int64_t value) {
    return value >= 0 ? Uint64(static_cast<std::uint64_t>(value)) : scalar("a negative number");
  }
  bool Uint(unsigned value) { return Uint64(value); }
  bool Uint64(std::uint64_t value) {
    if (!count_value()) return false;
    if (depth_ == 1) {
      if (key_ == Key::version) {
        if (value > std::numeric_limits<std::uint32_t>::max()) {
          return fail_field(Errc::invalid_field, "'version' is out of range");
        }
        message.version = static_cast<std::uint32_t>(value);
        seen.version = true;
        return true;
      }
      if (key_ == Key::id) {
        message.id = value;
        seen.id = true;
        return true;
      }
    } else if (in_error_ && depth_ == 2 && error_key_ == ErrorKey::code) {
      if (value > std::numeric_limits<std::uint16_t>::max()) {
        return fail_field(Errc::invalid_field, "'error.code' is out of range");
      }
      error_.code = static_cast<Errc>(value);
      has_error_code_ = true;
      return true;
    }
    return typed("a number");
  }
  bool Double(double) { return scalar("a fractional number"); }

  bool String(const char* text, rapidjson::SizeType length, bool) {
    if (!count_value()) return false;
    const std::string_view value{text, length};
    if (depth_ == 1) {
      switch (key_) {
        case Key::params:
        case Key::result:
          message.payload = as_bytes(value);
          has_text_payload = true;
          return true;
        case Key::params_base64:
        case Key::result_base64: {
          // Insitu parsing: the string lies in the caller's writable line buffer.
          auto decoded = decode_base64_in_place({const_cast<char*>(text), length});
          if (!decoded) {
            return fail_field(Errc::invalid_field, "'" + key_name_ + "' is not valid base64");
          }
          message.payload = as_bytes(value.substr(0, *decoded));
          has_base64_payload = true;
          return true;
        }
        default:
          break;
      }
    }
    if (length > limits_.str) {
      return fail_limit("a string of " + std::to_string(length) + " bytes exceeds the limit of " +
                        std::to_string(limits_.str));
    }
    if (depth_ == 1) {
      if (key_ == Key::type) {
        seen.type_name = value;
        seen.type = true;
        return true;
      }
      if (key_ == Key::method) {
        message.method = value;
        return true;
      }
    } else if (in_error_ && depth_ == 2 && error_key_ == ErrorKey::message) {
      error_.message = value;
      return true;
    }
    return typed("a string");
  }

  bool StartObject() {
    if (depth_ == 0) return enter(false);
    if (!count_value()) return false;
    if (depth_ == 1 && key_ == Key::error) {
      in_error_ = true;
      has_error_code_ = false;
      error_ = {};
    } else if (!typed("an object")) {
      return false;
    }
    return enter(false);
  }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    if (++counts_[depth_] > limits_.map) {
      return fail_limit("an object has more than " + std::to_string(limits_.map) + " keys");
    }
    if (length > limits_.str) return fail_limit("a key exceeds the string limit");
    const std::string_view name{text, length};
    if (depth_ == 1) {
      key_ = key_of(name);
      key_name_.assign(name);
    } else if (in_error_ && depth_ == 2) {
      error_key_ = name == "code"      ? ErrorKey::code
                   : name == "message" ? ErrorKey::message
                                       : ErrorKey::other;
    }
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    if (in_error_ && depth_ == 2) {
      in_error_ = false;
      if (has_error_code_) {
        message.error = error_;
      } else {
        fail_field(Errc::missing_field, "'error.code' is required");
      }
    }
    --depth_;
    return true;
  }
  bool StartArray() {
    if (depth_ == 0) return not_a_map();
    if (!count_value() || !typed("an array")) return false;
    return enter(true);
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }

  const std::string& key_name() const { return key_name_; }

 private:
  enum class ErrorKey : std::uint8_t { other, code, message };

  // Counts one value in the current container: arrays have an element limit (an object's
  // pairs are counted by Key()).
  bool count_value() {
    if (depth_ == 0) return not_a_map();
    if (is_array_[depth_] && ++counts_[depth_] > limits_.array) {
      return fail_limit("an array has more than " + std::to_string(limits_.array) + " elements");
    }
    return true;
  }
  bool enter(bool array) {
    if (++depth_ > std::min(limits_.depth, counts_.size() - 1)) {
      return fail_limit("nesting deeper than " + std::to_string(limits_.depth) + " levels");
    }
    counts_[depth_] = 0;
    is_array_[depth_] = array;
    return true;
  }
  bool scalar(const char* what) {
    if (!count_value()) return false;
    return typed(what);
  }
  // A value of type `what` arrived: wrong for a known key, fine for an unknown one.
  bool typed(const char* what) {
    if (depth_ == 1) return check_known_key(what);
    if (in_error_ && depth_ == 2) {
      if (error_key_ == ErrorKey::code)
        return wrong_type("error.code", "an unsigned integer", what);
      if (error_key_ == ErrorKey::message) return wrong_type("error.message", "a string", what);
    }
    return true;
  }
  bool check_known_key(const char* what) {
    switch (key_) {
      case Key::unknown:
        return true;
      case Key::version:
      case Key::id:
        return wrong_type(key_name_, "an unsigned integer", what);
      case Key::type:
      case Key::method:
      case Key::params:
      case Key::result:
      case Key::params_base64:
      case Key::result_base64:
        return wrong_type(key_name_, "a string", what);
      case Key::error:
        return wrong_type(key_name_, "an object {code, message}", what);
      case Key::shm:
      case Key::fds:
        return fail_field(Errc::invalid_field,
                          "'" + key_name_ +
                              "' is not valid in NDJSON: stdio carries no shared "
                              "memory and no fds");
    }
    return true;
  }
  bool wrong_type(std::string_view field, std::string_view expected, const char* got) {
    return fail_field(Errc::wrong_field_type, "'" + std::string(field) + "' must be " +
                                                  std::string(expected) + ", not " + got);
  }
  bool fail_field(Errc code, std::string text) {
    if (!field_error) field_error = Error{code, std::move(text)};
    return true;  // keep parsing: the id may still follow
  }
  bool fail_limit(std::string text) {
    limit_error = Error{Errc::limit_exceeded, std::move(text)};
    return false;
  }
  bool not_a_map() {
    limit_error = Error{Errc::not_a_map, "a line must hold one JSON object"};
    return false;
  }

  const DecodeLimits& limits_;
  std::size_t depth_ = 0;
  // Per open container, by depth (the limit keeps depth_ below 16): pairs or elements seen.
  std::array<std::size_t, 16> counts_{};
  std::array<bool, 16> is_array_{};
  detail::Key key_ = detail::Key::unknown;
  std::string key_name_;
  bool in_error_ = false;
  bool has_error_code_ = false;
  ErrorKey error_key_ = ErrorKey::other;
  ErrorView error_;
};

}  // namespace detail

/// Decodes NDJSON lines in place. One Decoder per reading thread.
class Decoder {
 public:
  /// The same unpack limits as the frames (depth, array, map, str); `max_line` bounds a line.
  explicit Decoder(std::size_t max_line = kDefaultMaxLine, DecodeLimits limits = DecodeLimits{})
      : max_line_(max_line), limits_(limits) {}

  /// Decodes one line (without its '\n'). The line is parsed in place: its bytes are rewritten
  /// (escapes resolved, base64 decoded) and the Message views them, so keep them alive and
  /// unchanged while the Message is used. `line.data()[line.size()]` must be writable and '\0'.
  Result<Message> decode(std::span<char> line) {
    assert(line.data()[line.size()] == '\0');
    failed_request_id_.reset();
    if (line.size() > max_line_) {
      return Error{Errc::frame_too_large, "line of " + std::to_string(line.size()) +
                                              " bytes exceeds the maximum of " +
                                              std::to_string(max_line_)};
    }
    // One fast pass (ASCII eight bytes at a time) instead of RapidJSON's per-character check.
    if (!is_valid_utf8(as_bytes({line.data(), line.size()}))) {
      return Error{Errc::malformed, "the line is not valid UTF-8"};
    }
    detail::LineHandler handler(limits_);
    rapidjson::InsituStringStream stream(line.data());
    rapidjson::Reader reader;
    constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;
    const rapidjson::ParseResult parsed = reader.Parse<kFlags>(stream, handler);
    if (handler.limit_error) return *handler.limit_error;
    if (parsed.IsError()) return parse_error(parsed);
    if (stream.Tell() != line.size()) {
      return Error{Errc::trailing_bytes, "a NUL byte at offset " + std::to_string(stream.Tell()) +
                                             " ends the JSON early"};
    }
    Result<Message> message = finish(handler);
    if (!message && handler.seen.id && handler.seen.type_name == "request") {
      failed_request_id_ = handler.message.id;
    }
    return message;
  }

  /// Decodes a line held in a std::string (which is NUL-terminated), in place.
  Result<Message> decode(std::string& line) {
    return decode(std::span<char>(line.data(), line.size()));
  }

  /// After a failed decode(): the id of the request the line was, when it named one, so the
  /// caller can answer that request with the error instead of ending the session.
  std::optional<std::uint64_t> failed_request_id() const { return failed_request_id_; }

 private:
  static Error parse_error(const rapidjson::ParseResult& parsed) {
    const std::string at = " at byte " + std::to_string(parsed.Offset());
    switch (parsed.Code()) {
      case rapidjson::kParseErrorDocumentEmpty:
        return Error{Errc::frame_empty, "an empty line"};
      case rapidjson::kParseErrorDocumentRootNotSingular:
        return Error{Errc::trailing_bytes, "more than one JSON value on a line" + at};
      default:
        return Error{Errc::malformed, std::string("invalid JSON") + at + ": " +
                                          rapidjson::GetParseError_En(parsed.Code())};
    }
  }

  static Result<Message> finish(detail::LineHandler& h) {
    if (h.field_error) return *h.field_error;
    Message& m = h.message;
    if (Status header = check_header_fields(m, h.seen); !header) return header.error();
    if (h.has_text_payload && h.has_base64_payload) {
      return Error{Errc::invalid_field,
                   "a message carries its payload as text or as base64, not both"};
    }
    if (Status result = check_error_has_no_result(m, h.has_text_payload || h.has_base64_payload);
        !result) {
      return result.error();
    }
    return std::move(m);
  }

  std::size_t max_line_;
  DecodeLimits limits_;
  std::optional<std::uint64_t> failed_request_id_;
};

/// Reads the `{"id":N}` payload of an `ipc.cancel` notification.
inline Result<std::uint64_t> decode_cancel_params(ByteView params) {
  std::string text(as_chars(params));
  // The payload is a JSON object of its own; parse it with the id as its only known key.
  rapidjson::Reader reader;
  struct IdHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, IdHandler> {
    std::size_t depth = 0;
    bool id_key = false, has_id = false, bad = false;
    std::uint64_t id = 0;
    bool Default() {
      if (depth == 0) return false;
      if (depth == 1 && id_key) bad = true;
      return true;
    }
    bool Uint(unsigned v) { return Uint64(v); }
    bool Int(int v) { return v >= 0 ? Uint64(static_cast<std::uint64_t>(v)) : Default(); }
    bool Int64(std::int64_t v) {
      return v >= 0 ? Uint64(static_cast<std::uint64_t>(v)) : Default();
    }
    bool Uint64(std::uint64_t v) {
      if (depth == 1 && id_key) {
        id = v;
        has_id = true;
        return true;
      }
      return Default();
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
      id_key = depth == 1 && std::string_view(s, n) == "id";
      return true;
    }
    bool StartObject() {
      if (depth > 0 && !Default()) return false;
      return ++depth <= 6;
    }
    bool EndObject(rapidjson::SizeType) {
      --depth;
      return true;
    }
    bool StartArray() {
      if (!Default()) return false;
      return ++depth <= 6;
    }
    bool EndArray(rapidjson::SizeType) {
      --depth;
      return true;
    }
  } handler;
  rapidjson::InsituStringStream stream(text.data());
  const auto parsed =
      reader.Parse<rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag>(stream, handler);
  if (parsed.IsError() || stream.Tell() != text.size()) {
    return Error{Errc::malformed, "ipc.cancel params must be the JSON object {\"id\": N}"};
  }
  if (handler.bad) return Error{Errc::wrong_field_type, "'id' must be an unsigned integer"};
  if (!handler.has_id) return Error{Errc::missing_field, "ipc.cancel needs 'id'"};
  return handler.id;
}

}  // namespace fastmd::proto::ndjson
