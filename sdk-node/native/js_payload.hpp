// js_payload.hpp — JS payloads to bytes and bytes to JS results: a string is encoded to
// UTF-8 straight into the memory it is sent from (a frame buffer, a shared-memory block or a
// one-off memfd) — by V8 when it starts with ASCII, else from a UTF-16 copy by
// utf16_to_utf8 — and a result becomes a Buffer or a string with an ASCII fast path and
// recycled memory for large strings (see make_result), chosen by measurement
// (docs/sdk-node.md).
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/shm/oneoff.hpp"
#include "fastmd/shm/segment_reader.hpp"
#include "payload.hpp"

namespace fastmd::node {

/// What the caller wants a result as.
enum class ResultKind : std::uint8_t { buffer, string };

/// A call's payload as JS gave it: a string, or bytes (Buffer / Uint8Array) viewed in place,
/// referenced until the payload goes (the core writes it again when it re-sends the call;
/// JS must not detach a pending call's ArrayBuffer).
/// A string's UTF-8 size is not known until it is written (measuring it first would cost a
/// second pass, twice the write itself): the core's place_payload (sdk-cpp/src/ipc/payload.hpp)
/// sizes destinations by max_size() and cuts them to what write_to() returns.
class JsPayload final : public ipc::detail::PayloadSource {
 public:
  /// Throws a TypeError for anything but a string, Buffer or Uint8Array.
  static JsPayload from(Napi::Value value);

  bool is_string() const { return is_string_; }

  /// The bytes of a Buffer/Uint8Array payload, in the caller's memory; nullopt for a string.
  std::optional<proto::ByteView> bytes() const override;

  /// Bounds of the wire size: exact for bytes; for a string 1 to 3 bytes per UTF-16 unit.
  std::size_t min_size() const override { return is_string_ ? max_size_ / 3 : max_size_; }
  std::size_t max_size() const override { return max_size_; }

  /// The exact wire size; for a string one pass over it.
  std::size_t exact_size() const override;

  /// Room a destination needs for a payload of wire size `size` (a string's encoder writes
  /// a terminating NUL after it).
  std::size_t room_for(std::size_t size) const override { return size + (is_string_ ? 1 : 0); }

  /// Writes the payload into `out` (room_for(max_size()) or room_for(exact_size()) bytes)
  /// and returns its wire size. A string whose first units are not all ASCII is copied out
  /// as UTF-16 first (V8 encodes those one character at a time; docs/sdk-node.md).
  std::size_t write_to(std::span<std::byte> out) const override;

 private:
  // The string (with a HandleScope open: the addon's callers have one).
  Napi::Value string() const;

  Napi::ObjectReference kept_;  // the bytes' Uint8Array, or an array holding the string
  proto::ByteView bytes_;
  std::size_t max_size_ = 0;
  bool is_string_ = false;
};

/// Makes the JS result of `bytes` (copied: the caller may release them right after).
/// Strings: pure ASCII becomes a one-byte string, anything else is decoded from UTF-8 to
/// UTF-16 by the addon (invalid UTF-8 by V8, with replacement characters). From 64 KiB up
/// both are external strings over recycled memory (a pool of at most 64 MiB of free
/// buffers), so a large result is written into pages that are already faulted in. Buffers
/// from 64 KiB up are copied into the same recycled memory (external Buffers).
Napi::Value make_result(Napi::Env env, proto::ByteView bytes, ResultKind kind);

/// Makes the JS result of a received one-off memfd without copying it where that is safe:
/// the memfd is sealed against writes (F_SEAL_WRITE, checked by map_attached), so nobody can
/// change its bytes. From 64 KiB up a Buffer is an external Buffer over `payload` (mapped
/// AttachedView::private_copy: JS may write to a Buffer, and those writes stay in this
/// process), and an ASCII string an external one-byte string over it; the
/// mapping goes when V8 collects the value. Anything else is copied as above.
Napi::Value make_result(Napi::Env env, shm::AttachedPayload payload, ResultKind kind);

/// How many bytes of one worker's segment this client's result Buffers may hold in place at
/// once: the segment's size / ipc::policy::kHeldResultsSegmentDivisor; past it results are
/// copied. Used only on the JS thread (finalizers run there too).
class HeldResultBudget {
 public:
  explicit HeldResultBudget(std::size_t segment_size)
      : limit_(segment_size / ipc::policy::kHeldResultsSegmentDivisor) {}

  bool take(std::size_t bytes) {
    if (bytes > limit_ - held_) return false;
    held_ += bytes;
    return true;
  }
  void give_back(std::size_t bytes) { held_ -= bytes; }
  std::size_t held() const { return held_; }

 private:
  std::size_t limit_;
  std::size_t held_ = 0;
};

/// A Buffer over a result block of the worker's segment, without a copy, when it is at least
/// 64 KiB and `budget` has room for it: the block stays sealed (the worker may not reuse or
/// write it, PROTOCOL.md §4) until V8 collects the Buffer, then it is released to the worker
/// and the budget credited. The block keeps the segment's mapping, so the Buffer stays valid
/// after the worker is gone (the daemon then gives its slot fresh memory). std::nullopt, with
/// `block` untouched, when the result is to be copied instead.
std::optional<Napi::Value> buffer_in_place(Napi::Env env, shm::ReadBlock& block,
                                           const std::shared_ptr<HeldResultBudget>& budget);

/// Looks up the optional N-API functions make_result uses (once, at module load).
void init_result_strings();

}  // namespace fastmd::node
