// UTF-16 to UTF-8 (see utf16_to_utf8.hpp).
#include "utf16_to_utf8.hpp"

#include <bit>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fastmd::node {

namespace {

// One code unit at in[i] (and its pair) as UTF-8 at o; returns the new o, advances i.
unsigned char* encode_one(const char16_t* in, std::size_t n, std::size_t& i, unsigned char* o) {
  unsigned u = in[i++];
  if (u < 0x80) {
    *o++ = static_cast<unsigned char>(u);
    return o;
  }
  if (u < 0x800) {
    *o++ = static_cast<unsigned char>(0xC0 | (u >> 6));
    *o++ = static_cast<unsigned char>(0x80 | (u & 0x3F));
    return o;
  }
  if (u >= 0xD800 && u <= 0xDFFF) {
    if (u <= 0xDBFF && i < n && in[i] >= 0xDC00 && in[i] <= 0xDFFF) {
      const unsigned cp = 0x10000 + ((u - 0xD800) << 10) + (in[i++] - 0xDC00u);
      *o++ = static_cast<unsigned char>(0xF0 | (cp >> 18));
      *o++ = static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F));
      *o++ = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
      *o++ = static_cast<unsigned char>(0x80 | (cp & 0x3F));
      return o;
    }
    u = 0xFFFD;  // a lone surrogate, as V8's REPLACE_INVALID_UTF8 writes it
  }
  *o++ = static_cast<unsigned char>(0xE0 | (u >> 12));
  *o++ = static_cast<unsigned char>(0x80 | ((u >> 6) & 0x3F));
  *o++ = static_cast<unsigned char>(0x80 | (u & 0x3F));
  return o;
}

}  // namespace

std::size_t utf16_to_utf8(const char16_t* in, std::size_t n, unsigned char* out) {
  unsigned char* o = out;
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  while (i + 8 <= n) {
    const __m128i units = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    const auto ascii_lanes = static_cast<unsigned>(_mm_movemask_epi8(
        _mm_cmpeq_epi16(_mm_and_si128(units, _mm_set1_epi16(static_cast<short>(0xFF80))), zero)));
    // Branches, not counts, for the common cases: the next load must not wait for a count.
    if (ascii_lanes == 0xFFFF) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm_packus_epi16(units, units));
      o += 8;
      i += 8;
      continue;
    }
    const auto below_0x800 = static_cast<unsigned>(_mm_movemask_epi8(
        _mm_cmpeq_epi16(_mm_and_si128(units, _mm_set1_epi16(static_cast<short>(0xF800))), zero)));
    if (ascii_lanes == 0 && below_0x800 == 0xFFFF) {  // eight two-byte sequences
      const __m128i lead = _mm_or_si128(_mm_srli_epi16(units, 6), _mm_set1_epi16(0x00C0));
      const __m128i tail =
          _mm_or_si128(_mm_and_si128(units, _mm_set1_epi16(0x003F)), _mm_set1_epi16(0x0080));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm_or_si128(lead, _mm_slli_epi16(tail, 8)));
      o += 16;
      i += 8;
      continue;
    }
    const unsigned ascii = static_cast<unsigned>(std::countr_one(ascii_lanes)) / 2;
    if (ascii > 0) {  // the ASCII units that start the eight (all 8 bytes stored, `ascii` kept)
      _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm_packus_epi16(units, units));
      o += ascii;
      i += ascii;
      continue;
    }
    // Mixed lengths: these eight units one at a time (a pair may take a ninth).
    for (const std::size_t until = i + 8; i < until;) o = encode_one(in, n, i, o);
  }
#endif
  while (i < n) o = encode_one(in, n, i, o);
  return static_cast<std::size_t>(o - out);
}

}  // namespace fastmd::node
