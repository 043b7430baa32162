// js_payload.hpp — JS payloads to bytes and bytes to JS results, each in one pass:
// a string is encoded to UTF-8 straight into the memory it is sent from (a frame buffer, a
// shared-memory block or a one-off memfd), and a result becomes a Buffer or a string with an
// ASCII fast path and recycled memory for large strings (see make_result), chosen by
// measurement (docs/sdk-node.md).
#pragma once

#include <napi.h>

#include <cstddef>
#include <span>

#include "fastmd/proto/message.hpp"

namespace fastmd::node {

/// What the caller wants a result as.
enum class ResultKind : std::uint8_t { buffer, string };

/// A call's payload as JS gave it: a string, or bytes (Buffer / Uint8Array) viewed in place.
/// A string's UTF-8 size is not known until it is written (measuring it first would cost a
/// second pass, twice the write itself): destinations are sized by max_size() and cut to
/// what write_to() returns.
class JsPayload {
 public:
  /// Throws a TypeError for anything but a string, Buffer or Uint8Array.
  static JsPayload from(Napi::Value value);

  bool is_string() const { return is_string_; }
  bool empty() const { return max_size_ == 0; }

  /// The bytes of a Buffer/Uint8Array payload, in the caller's memory; empty for a string.
  proto::ByteView bytes() const { return bytes_; }

  /// An upper bound of the wire size: exact for bytes, 3 bytes per UTF-16 unit for a string.
  std::size_t max_size() const { return max_size_; }

  /// The exact wire size; for a string one pass over it.
  std::size_t exact_size() const;

  /// Room a destination needs for a payload of wire size `size` (a string's encoder writes
  /// a terminating NUL after it).
  std::size_t room_for(std::size_t size) const { return size + (is_string_ ? 1 : 0); }

  /// Writes the payload into `out` (room_for(max_size()) or room_for(exact_size()) bytes)
  /// and returns its wire size.
  std::size_t write_to(std::span<std::byte> out) const;

 private:
  Napi::Value value_;
  proto::ByteView bytes_;
  std::size_t max_size_ = 0;
  bool is_string_ = false;
};

/// Makes the JS result of `bytes` (copied: the caller may release them right after).
/// Strings: pure ASCII becomes a one-byte string, anything else is decoded from UTF-8 to
/// UTF-16 by the addon (invalid UTF-8 by V8, with replacement characters). From 64 KiB up
/// both are external strings over recycled memory (a pool of at most 64 MiB of free
/// buffers), so a large result is written into pages that are already faulted in.
Napi::Value make_result(Napi::Env env, proto::ByteView bytes, ResultKind kind);

/// Looks up the optional N-API functions make_result uses (once, at module load).
void init_result_strings();

}  // namespace fastmd::node
