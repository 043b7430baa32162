// utf16_to_utf8.hpp — UTF-16 code units to UTF-8 bytes, as V8's WriteUtf8 with
// REPLACE_INVALID_UTF8 writes them (a lone surrogate becomes U+FFFD), but 16 bytes per step
// where the text allows: with SSE2, eight ASCII units, or eight units of two-byte UTF-8
// (Latin-1 supplement, Greek, Cyrillic, Hebrew, Arabic). JsPayload::write_to uses it for
// strings that are not ASCII, where V8 encodes one character at a time (docs/sdk-node.md).
#pragma once

#include <cstddef>

namespace fastmd::node {

/// Writes `units` as UTF-8 to `out` and returns the bytes written (at most 3 per unit; a
/// surrogate pair takes 4 for its two). `out` has room for the UTF-8 size; nothing is
/// written past it (a 16-byte step stores only where at least that much output follows).
std::size_t utf16_to_utf8(const char16_t* units, std::size_t count, unsigned char* out);

}  // namespace fastmd::node
