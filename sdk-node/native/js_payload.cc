// JS payloads and results (see js_payload.hpp).
#include "js_payload.hpp"

#include <dlfcn.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fastmd/platform/prefault.hpp"
#include "utf16_to_utf8.hpp"

namespace fastmd::node {

namespace {

// node_api_create_external_string_latin1 / _utf16 exist in Node >= 20.4 (experimental, so
// not declared under NAPI_VERSION 8): looked up at run time, used when present.
template <class Char>
using CreateExternalString = napi_status (*)(napi_env, Char*, std::size_t,
                                             void (*)(napi_env, void*, void*), void*, napi_value*,
                                             bool*);
CreateExternalString<char> create_external_latin1 = nullptr;
CreateExternalString<char16_t> create_external_utf16 = nullptr;

// Below this many bytes an ordinary string or Buffer is as fast (measured: docs/sdk-node.md).
constexpr std::size_t kExternalResultMin = 64 * 1024;

// The memory of external result strings and Buffers, recycled. A fresh buffer is fresh pages: a 10
// MiB result copied into one costs 2,560 first-touch page faults (about 18 ms here), ten times the
// copy. So when V8 collects an external string its buffer comes back here, and the next result of
// the same size class is written into pages that are already faulted in. Buffers are sized in
// powers of two (untouched tail pages cost nothing); at most kMaxFreeBytes of them wait here, the
// oldest are freed first. That bound is what results pile up between two GCs, not less: at 64 MiB
// a 10 MiB echo loop missed the pool (16 MiB class, kept 4 times) on most calls and its p50 was
// 1.2-1.3x that of Node's own copy; at 128 and 256 MiB it is level, below that it faults again.
// Waiting buffers stay resident: giving their pages to the kernel lazily (MADV_FREE) made every
// reuse pay for it, twice the copy's time on 2 MiB pages and 50 times on 4 KiB ones (measured:
// docs/sdk-node.md, "A pool as large as what piles up between GCs"). From 2 MiB up a fresh
// buffer asks for 2 MiB pages (platform::advise_huge_pages; this kernel's transparent huge
// pages are "madvise"), so filling it takes a page fault per 2 MiB, not per 4 KiB: a 10 MiB
// result's 2,560 first touches become 5 (docs/sdk-node.md). A smaller fresh buffer has the pages
// its first result needs populated in one call (platform::populate): 1 MiB costs this VM 1.1 ms
// that way against 3.5 ms of 256 first-touch faults, and a new process's first results all miss the
// pool.
class StringMemoryPool {
 public:
  static constexpr std::size_t kMaxFreeBytes = 128 * 1024 * 1024;

  // Never destroyed: finalizers may run during Node's teardown, after static destructors.
  static StringMemoryPool& instance() {
    static auto* pool = new StringMemoryPool;
    return *pool;
  }

  static std::size_t capacity_for(std::size_t size) { return std::bit_ceil(size); }

  // A buffer of capacity_for(size) bytes, a free one when there is; nullptr when out of memory.
  void* acquire(std::size_t size) {
    const std::size_t capacity = capacity_for(size);
    {
      std::lock_guard lock(mutex_);
      for (auto it = free_.begin(); it != free_.end(); ++it) {
        if (it->capacity == capacity) {
          void* data = it->data.release();
          forget_locked(it);
          return data;
        }
      }
    }
    return allocate(capacity, size);
  }

  void release(void* data, std::size_t capacity) {
    FreeBuffer buffer{std::unique_ptr<void, FreeDeleter>(data), capacity};
    if (capacity > kMaxFreeBytes) return;
    std::lock_guard lock(mutex_);
    while (free_bytes_ + capacity > kMaxFreeBytes) forget_locked(free_.begin());
    free_bytes_ += capacity;
    free_.push_back(std::move(buffer));
  }

 private:
  static constexpr std::size_t kHugePage = 2 * 1024 * 1024;
  static constexpr std::size_t kPage = 4096;

  // `capacity` bytes for a first result of `size`; freed with std::free (FreeDeleter), large or
  // not. Capacities are powers of two from 64 KiB (kExternalResultMin) up: multiples of both
  // alignments, as aligned_alloc requires.
  static void* allocate(std::size_t capacity, std::size_t size) {
    if (capacity < kHugePage) {
      void* data = std::aligned_alloc(kPage, capacity);
      // Advice only, like the huge pages below: where the call is missing (an old kernel, or
      // pages larger than kPage) the buffer faults in as it is written.
      if (data != nullptr) {
        const std::size_t needed = (size + kPage - 1) / kPage * kPage;
        (void)platform::populate({static_cast<std::byte*>(data), needed},
                                 platform::PopulateFor::write);
      }
      return data;
    }
    void* data = std::aligned_alloc(kHugePage, capacity);
    // Advice only: where huge pages are off (or the platform has none), the buffer simply
    // faults 4 KiB at a time.
    if (data != nullptr) {
      (void)platform::advise_huge_pages({static_cast<std::byte*>(data), capacity});
    }
    return data;
  }

  struct FreeDeleter {
    void operator()(void* data) const { std::free(data); }
  };
  struct FreeBuffer {
    std::unique_ptr<void, FreeDeleter> data;
    std::size_t capacity;
  };

  // Takes `it` out of the pool (its buffer is freed unless released from it before).
  void forget_locked(std::vector<FreeBuffer>::iterator it) {
    free_bytes_ -= it->capacity;
    free_.erase(it);
  }

  std::mutex mutex_;
  std::vector<FreeBuffer> free_;  // oldest first
  std::size_t free_bytes_ = 0;
};

// V8 does not count an external string's memory by itself, so without being told it would
// let thousands of large results pile up before a GC, and the pool would stay empty.
void account_external_memory(napi_env env, std::int64_t change) {
  std::int64_t total = 0;
  napi_adjust_external_memory(env, change, &total);
}

// Array buffers, external ones included, are counted by V8 itself: only strings need this
// (measured: reporting a Buffer's memory again raised GCs per 100 10 MiB calls from 35 to 50).
void give_back_buffer_memory(napi_env, void* data, void* capacity_hint) {
  StringMemoryPool::instance().release(data, reinterpret_cast<std::size_t>(capacity_hint));
}

void give_back_pooled_memory(napi_env env, void* data, void* capacity_hint) {
  const std::size_t capacity = reinterpret_cast<std::size_t>(capacity_hint);
  if (env != nullptr) account_external_memory(env, -static_cast<std::int64_t>(capacity));
  StringMemoryPool::instance().release(data, capacity);
}

// An external string of at most `max_length` units of Char over pooled memory: `fill(out)`
// writes them and returns how many it wrote, or std::nullopt when it cannot (then nothing is
// made). std::nullopt too when the running Node lacks `create`.
template <class Char, class Fill>
std::optional<Napi::Value> pooled_external_string(Napi::Env env, CreateExternalString<Char> create,
                                                  std::size_t max_length, Fill fill) {
  if (create == nullptr) return std::nullopt;
  StringMemoryPool& pool = StringMemoryPool::instance();
  const std::size_t bytes = max_length * sizeof(Char);
  void* capacity = reinterpret_cast<void*>(StringMemoryPool::capacity_for(bytes));
  auto* out = static_cast<Char*>(pool.acquire(bytes));
  if (out == nullptr) throw Napi::Error::New(env, "out of memory for a result string");
  const std::optional<std::size_t> length = fill(out);
  if (length) {
    // Counted first: a V8 that copies instead (a sandboxed build) runs the finalizer at once.
    account_external_memory(env,
                            static_cast<std::int64_t>(reinterpret_cast<std::size_t>(capacity)));
    napi_value result;
    bool copied = false;
    if (create(env, out, *length, give_back_pooled_memory, capacity, &result, &copied) == napi_ok) {
      return Napi::Value(env, result);
    }
    account_external_memory(env,
                            -static_cast<std::int64_t>(reinterpret_cast<std::size_t>(capacity)));
  }
  pool.release(out, reinterpret_cast<std::size_t>(capacity));  // no string, no finalizer
  return std::nullopt;
}

// ASCII checks, 64 bytes per step with one branch. x86-64 always has SSE2 (no -march
// needed, so the distributed binary runs on any x86-64): four 16-byte loads OR-ed and one
// movemask. Elsewhere 8-byte words, which the compiler may vectorize.
#if defined(__SSE2__)
struct Block64 {
  __m128i part[4];
  explicit Block64(const unsigned char* at) {
    for (int i = 0; i < 4; ++i) {
      part[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + 16 * i));
    }
  }
  bool ascii() const {
    const __m128i any =
        _mm_or_si128(_mm_or_si128(part[0], part[1]), _mm_or_si128(part[2], part[3]));
    return _mm_movemask_epi8(any) == 0;
  }
  void store(char* out) const {
    for (int i = 0; i < 4; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * i), part[i]);
  }
};
#else
struct Block64 {
  std::uint64_t words[8];
  explicit Block64(const unsigned char* at) { std::memcpy(words, at, sizeof(words)); }
  bool ascii() const {
    std::uint64_t seen = 0;
    for (std::uint64_t word : words) seen |= word;
    return (seen & 0x8080808080808080ull) == 0;
  }
  void store(char* out) const { std::memcpy(out, words, sizeof(words)); }
};
#endif

bool is_ascii(proto::ByteView bytes) {
  const auto* at = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  for (; n >= 64; at += 64, n -= 64) {
    if (!Block64(at).ascii()) return false;
  }
  unsigned char tail = 0;
  for (std::size_t i = 0; i < n; ++i) tail |= at[i];
  return (tail & 0x80) == 0;
}

// Copies `bytes` to `out` while checking that they are ASCII, in one pass; false at the
// first 64 bytes that are not, with `out` partly written. Measured in docs/sdk-node.md
// against the 8-byte-word loop this replaces.
bool copy_if_ascii(proto::ByteView bytes, char* out) {
  const auto* at = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  for (; n >= 64; at += 64, out += 64, n -= 64) {
    const Block64 block(at);
    if (!block.ascii()) return false;
    block.store(out);
  }
  unsigned char tail = 0;
  for (std::size_t i = 0; i < n; ++i) tail |= (out[i] = static_cast<char>(at[i]));
  return (tail & 0x80) == 0;
}

Napi::Value latin1_string(Napi::Env env, proto::ByteView bytes) {
  napi_value result;
  NAPI_THROW_IF_FAILED(env,
                       napi_create_string_latin1(env, reinterpret_cast<const char*>(bytes.data()),
                                                 bytes.size(), &result),
                       Napi::Value());
  return Napi::Value(env, result);
}

// Decodes UTF-8 into UTF-16 (`out` has room for bytes.size() units). Returns the units
// written, or std::nullopt on any invalid sequence (overlong, surrogate, out of range,
// truncated), which V8 then decodes with replacement characters. With SSE2 (x86-64's
// baseline) 16 bytes per step where they start with ASCII or are eight two-byte sequences
// (Latin-1 supplement, Greek, Cyrillic, Hebrew, Arabic); elsewhere 8 ASCII bytes per step.
// Measured per MiB (docs/sdk-node.md): two-byte text 590 -> 80 us, ASCII 261 -> 54 us, ASCII
// with a few non-ASCII letters 350 -> 258 us, against the 8-byte loop alone.
std::optional<std::size_t> decode_utf8(proto::ByteView bytes, char16_t* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  char16_t* o = out;
  auto continuation = [&](std::size_t at) { return at < n && (s[at] & 0xC0) == 0x80; };
  std::size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    if (i + 16 <= n) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      // The ASCII bytes that start the chunk, zero-extended to units. All 16 are stored (`out`
      // has a unit per input byte and o - out <= i), only the ASCII ones are kept.
      const auto non_ascii = static_cast<unsigned>(_mm_movemask_epi8(chunk));
      const auto ascii = non_ascii == 0 ? 16u : static_cast<unsigned>(std::countr_zero(non_ascii));
      if (ascii > 0) {
        const __m128i zero = _mm_setzero_si128();
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm_unpacklo_epi8(chunk, zero));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 8), _mm_unpackhi_epi8(chunk, zero));
        o += ascii;
        i += ascii;
        continue;
      }
      // Eight two-byte sequences: each 16-bit lane holds a lead 110xxxxx of at least 0xC2
      // (not overlong) in its low byte and a continuation 10xxxxxx in its high byte.
      const __m128i shaped =
          _mm_cmpeq_epi16(_mm_and_si128(chunk, _mm_set1_epi16(static_cast<short>(0xC0E0))),
                          _mm_set1_epi16(static_cast<short>(0x80C0)));
      const __m128i overlong =
          _mm_cmpeq_epi16(_mm_and_si128(chunk, _mm_set1_epi16(0x001E)), _mm_setzero_si128());
      if (_mm_movemask_epi8(_mm_andnot_si128(overlong, shaped)) == 0xFFFF) {
        const __m128i high = _mm_slli_epi16(_mm_and_si128(chunk, _mm_set1_epi16(0x001F)), 6);
        const __m128i low = _mm_and_si128(_mm_srli_epi16(chunk, 8), _mm_set1_epi16(0x003F));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm_or_si128(high, low));
        o += 8;
        i += 16;
        continue;
      }
    }
#endif
    if (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        for (int k = 0; k < 8; ++k) o[k] = s[i + k];
        o += 8;
        i += 8;
        continue;
      }
    }
    const unsigned c = s[i];
    if (c < 0x80) {
      *o++ = static_cast<char16_t>(c);
      i += 1;
    } else if (c >= 0xC2 && c < 0xE0 && continuation(i + 1)) {
      *o++ = static_cast<char16_t>(((c & 0x1F) << 6) | (s[i + 1] & 0x3F));
      i += 2;
    } else if ((c & 0xF0) == 0xE0 && continuation(i + 1) && continuation(i + 2)) {
      const unsigned cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
      *o++ = static_cast<char16_t>(cp);
      i += 3;
    } else if ((c & 0xF8) == 0xF0 && continuation(i + 1) && continuation(i + 2) &&
               continuation(i + 3)) {
      unsigned cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
                    (s[i + 3] & 0x3F);
      if (cp < 0x10000 || cp > 0x10FFFF) return std::nullopt;
      cp -= 0x10000;
      *o++ = static_cast<char16_t>(0xD800 + (cp >> 10));
      *o++ = static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
      i += 4;
    } else {
      return std::nullopt;
    }
  }
  return static_cast<std::size_t>(o - out);
}

Napi::Value utf8_string(Napi::Env env, proto::ByteView bytes) {
  // UTF-16 never needs more units than UTF-8 has bytes.
  auto decode = [&](char16_t* out) { return decode_utf8(bytes, out); };
  if (bytes.size() >= kExternalResultMin) {
    if (auto external = pooled_external_string(env, create_external_utf16, bytes.size(), decode)) {
      return *external;
    }
  }
  // Small, or no external strings in this Node, or invalid UTF-8 (found again at once).
  // Reused across calls: decoding into already-touched memory avoids fresh page faults.
  thread_local std::vector<char16_t> units;
  units.resize(bytes.size());
  if (auto length = decode(units.data())) return Napi::String::New(env, units.data(), *length);
  return Napi::String::New(env, reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

void init_result_strings() {
  create_external_latin1 = reinterpret_cast<CreateExternalString<char>>(
      ::dlsym(RTLD_DEFAULT, "node_api_create_external_string_latin1"));
  create_external_utf16 = reinterpret_cast<CreateExternalString<char16_t>>(
      ::dlsym(RTLD_DEFAULT, "node_api_create_external_string_utf16"));
}

JsPayload JsPayload::from(Napi::Value value) {
  JsPayload payload;
  if (value.IsString()) {
    // Node-API refers to objects only: the string is kept in a one-element array.
    Napi::Array holder = Napi::Array::New(value.Env(), 1);
    holder.Set(0u, value);
    payload.kept_ = Napi::Persistent(holder.As<Napi::Object>());
    payload.is_string_ = true;
    // With no buffer N-API reports the length in UTF-16 units, without a pass over the text.
    std::size_t units = 0;
    NAPI_THROW_IF_FAILED(value.Env(),
                         napi_get_value_string_utf16(value.Env(), value, nullptr, 0, &units),
                         JsPayload());
    payload.max_size_ = 3 * units;
    return payload;
  }
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    payload.kept_ = Napi::Persistent(value.As<Napi::Object>());
    auto bytes = value.As<Napi::Uint8Array>();
    payload.bytes_ = {reinterpret_cast<const std::byte*>(bytes.Data()), bytes.ByteLength()};
    payload.max_size_ = bytes.ByteLength();
    return payload;
  }
  throw Napi::TypeError::New(value.Env(), "a payload must be a string, Buffer or Uint8Array");
}

Napi::Value JsPayload::string() const {
  return kept_.Value().Get(0u);
}

std::optional<proto::ByteView> JsPayload::bytes() const {
  if (is_string_) return std::nullopt;
  return bytes_;
}

std::size_t JsPayload::exact_size() const {
  if (!is_string_) return bytes_.size();
  const Napi::Env env = kept_.Env();
  const Napi::Value text = string();
  std::size_t size = 0;  // with no buffer N-API reports the UTF-8 length
  NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, text, nullptr, 0, &size), 0);
  return size;
}

namespace {

// How much of a string write_to looks at to choose its encoder: the first 4,096 UTF-16 units,
// read with one N-API call (V8 copies only that prefix, about 0.3 us).
constexpr std::size_t kProbeUnits = 4096;
// The UTF-16 copy of a large string is kept for the next one up to this many units (32 MiB).
constexpr std::size_t kKeptUnitsMax = 16 * 1024 * 1024;
// Strings up to this long go to V8 unprobed: there the probe would cost more than it saves.
constexpr std::size_t kProbeMinUnits = 256;

// Whether `count` UTF-16 units are all ASCII. write_to asks it of every large string's first
// kProbeUnits, so under SSE2 it looks at 32 units per step: the scalar loop (the compiler left
// it scalar) cost an ASCII 64 KiB echo 1.5 us per call (docs/sdk-node.md).
bool all_ascii(const char16_t* units, std::size_t count) {
  std::size_t at = 0;
#if defined(__SSE2__)
  __m128i seen = _mm_setzero_si128();
  for (; at + 32 <= count; at += 32) {
    for (std::size_t part = 0; part < 4; ++part) {
      seen = _mm_or_si128(seen,
                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(units + at + 8 * part)));
    }
  }
  const __m128i beyond_ascii = _mm_and_si128(seen, _mm_set1_epi16(static_cast<short>(0xff80)));
  if (_mm_movemask_epi8(_mm_cmpeq_epi8(beyond_ascii, _mm_setzero_si128())) != 0xffff) {
    return false;
  }
#endif
  char16_t rest = 0;
  for (; at < count; ++at) rest |= units[at];
  return rest < 0x80;
}

}  // namespace

std::size_t JsPayload::write_to(std::span<std::byte> out) const {
  if (!is_string_) {
    if (!bytes_.empty()) std::memcpy(out.data(), bytes_.data(), bytes_.size());
    return bytes_.size();
  }
  // V8's WriteUtf8 is a memcpy for ASCII but encodes anything else one character at a time
  // (measured: 59 us per MiB of ASCII, 690-990 us per MiB of text with Cyrillic in it). So a
  // string whose first units are not all ASCII is copied out as UTF-16 (a memcpy, 22-43 us
  // per MiB) and encoded by utf16_to_utf8 (71 us per MiB of two-byte UTF-8). A string with
  // an ASCII start goes to V8 as before: for ASCII text the copy would cost more than it saves.
  const Napi::Env env = kept_.Env();
  const Napi::Value text = string();
  const std::size_t units = max_size_ / 3;
  if (units > kProbeMinUnits) {
    std::array<char16_t, kProbeUnits + 1> probe;  // + N-API's terminating NUL
    std::size_t probed = 0;
    NAPI_THROW_IF_FAILED(
        env, napi_get_value_string_utf16(env, text, probe.data(), probe.size(), &probed), 0);
    if (!all_ascii(probe.data(), probed)) {
      const char16_t* utf16 = probe.data();
      thread_local std::vector<char16_t> copied;  // reused: no fresh pages per call
      if (probed < units) {
        copied.resize(units + 1);
        NAPI_THROW_IF_FAILED(
            env, napi_get_value_string_utf16(env, text, copied.data(), copied.size(), &probed), 0);
        utf16 = copied.data();
      }
      const std::size_t written =
          utf16_to_utf8(utf16, probed, reinterpret_cast<unsigned char*>(out.data()));
      if (copied.capacity() > kKeptUnitsMax) copied = {};  // not 2 bytes per unit for ever
      return written;
    }
  }
  std::size_t written = 0;
  NAPI_THROW_IF_FAILED(env,
                       napi_get_value_string_utf8(env, text, reinterpret_cast<char*>(out.data()),
                                                  out.size(), &written),
                       0);
  return written;
}

namespace {

// Larger Buffers are left to Node's Buffer::Copy. With 4 KiB pages a 10 MiB Buffer was better
// there: the pool (then 64 MiB) missed and a fresh 16 MiB malloc faulted in 320-540 pages per
// call, against 65-130 for Node's copy (glibc reuses its heap for those); at 1 MiB the pool took
// faults from 14-24 to 0 per call. With 2 MiB pages a miss costs 5 faults, and the pool keeps
// as many 16 MiB buffers as a 10 MiB loop leaves between GCs: it takes Buffers this large.
constexpr std::size_t kPooledBufferMax = 32 * 1024 * 1024;

// A Buffer of `bytes` copied into pooled memory: like a string's, a large Buffer's pages
// are recycled instead of freshly faulted in (Node's own Buffer::Copy mallocs, and glibc
// serves 128 KiB and up with a fresh mmap: 256 page faults per MiB, then munmap).
std::optional<Napi::Value> pooled_buffer_copy(Napi::Env env, proto::ByteView bytes) {
  StringMemoryPool& pool = StringMemoryPool::instance();
  const std::size_t capacity = StringMemoryPool::capacity_for(bytes.size());
  void* out = pool.acquire(bytes.size());
  if (out == nullptr) throw Napi::Error::New(env, "out of memory for a result Buffer");
  std::memcpy(out, bytes.data(), bytes.size());
  napi_value result;
  if (napi_create_external_buffer(env, bytes.size(), out, give_back_buffer_memory,
                                  reinterpret_cast<void*>(capacity), &result) == napi_ok) {
    return Napi::Value(env, result);
  }
  // A Node that allows no external buffers (V8 sandbox): no finalizer will run.
  pool.release(out, capacity);
  return std::nullopt;
}

// A received one-off memfd, owned by the JS value made over it: a Buffer, or a string
// (whose memory V8 was told about, see give_back_buffer_memory).
void unmap_attached(napi_env, void*, void* hint) {
  delete static_cast<shm::AttachedPayload*>(hint);
}
void unmap_attached_string(napi_env env, void*, void* hint) {
  std::unique_ptr<shm::AttachedPayload> payload(static_cast<shm::AttachedPayload*>(hint));
  if (env != nullptr) account_external_memory(env, -static_cast<std::int64_t>(payload->size()));
}

// A JS value over the one-off's own mapping, which it then owns, with `reported` bytes
// reported to V8; std::nullopt if this Node cannot make one (`payload` is left as it was).
template <class Create>
std::optional<Napi::Value> over_attached(Napi::Env env, shm::AttachedPayload& payload,
                                         std::int64_t reported, Create create) {
  auto owned = std::make_unique<shm::AttachedPayload>(std::move(payload));
  account_external_memory(env, reported);
  napi_value result;
  if (create(owned.get(), &result) == napi_ok) {
    owned.release();  // the finalizer's now
    return Napi::Value(env, result);
  }
  account_external_memory(env, -reported);
  payload = std::move(*owned);
  return std::nullopt;
}

// A result block held by a Buffer over it, and the budget it is charged to.
struct HeldBlock {
  HeldBlock(shm::ReadBlock held, std::shared_ptr<HeldResultBudget> charged)
      : block(std::move(held)), budget(std::move(charged)) {}
  HeldBlock(const HeldBlock&) = delete;
  HeldBlock& operator=(const HeldBlock&) = delete;
  ~HeldBlock() { budget->give_back(block.bytes().size()); }

  shm::ReadBlock block;
  std::shared_ptr<HeldResultBudget> budget;
};

void release_held_block(napi_env, void*, void* hint) {
  delete static_cast<HeldBlock*>(hint);
}

}  // namespace

std::optional<Napi::Value> buffer_in_place(Napi::Env env, shm::ReadBlock& block,
                                           const std::shared_ptr<HeldResultBudget>& budget) {
  const std::size_t size = block.bytes().size();
  if (size < kExternalResultMin || !budget->take(size)) return std::nullopt;
  auto held = std::make_unique<HeldBlock>(std::move(block), budget);
  // The segment is mapped writable (a release is a store in the block's header), so JS
  // writes to the Buffer land in the block's payload bytes: its own result, nothing else.
  auto* data = const_cast<std::byte*>(held->block.bytes().data());
  napi_value result;
  if (napi_create_external_buffer(env, size, data, release_held_block, held.get(), &result) ==
      napi_ok) {
    held.release();  // the finalizer's now
    return Napi::Value(env, result);
  }
  block = std::move(held->block);
  return std::nullopt;
}

Napi::Value make_result(Napi::Env env, proto::ByteView bytes, ResultKind kind) {
  if (kind == ResultKind::buffer) {
    if (bytes.size() >= kExternalResultMin && bytes.size() <= kPooledBufferMax) {
      if (auto pooled = pooled_buffer_copy(env, bytes)) return *pooled;
    }
    return Napi::Buffer<std::uint8_t>::Copy(
        env, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  if (bytes.size() >= kExternalResultMin && create_external_latin1 != nullptr) {
    bool ascii = true;
    auto copy = [&](char* out) -> std::optional<std::size_t> {
      ascii = copy_if_ascii(bytes, out);
      return ascii ? std::optional(bytes.size()) : std::nullopt;
    };
    if (auto external = pooled_external_string(env, create_external_latin1, bytes.size(), copy)) {
      return *external;
    }
    if (!ascii) return utf8_string(env, bytes);
  }
  if (is_ascii(bytes)) return latin1_string(env, bytes);
  return utf8_string(env, bytes);
}

Napi::Value make_result(Napi::Env env, shm::AttachedPayload payload, ResultKind kind) {
  const std::size_t size = payload.size();
  std::optional<Napi::Value> made;
  if (size >= kExternalResultMin && kind == ResultKind::buffer) {
    made = over_attached(env, payload, 0, [&](shm::AttachedPayload* owned, napi_value* out) {
      return napi_create_external_buffer(env, size, owned->data(), unmap_attached, owned, out);
    });
  } else if (size >= kExternalResultMin && create_external_latin1 != nullptr &&
             is_ascii(payload.bytes())) {
    const auto reported = static_cast<std::int64_t>(size);
    made = over_attached(env, payload, reported, [&](shm::AttachedPayload* owned, napi_value* out) {
      bool copied = false;
      return create_external_latin1(env, reinterpret_cast<char*>(owned->data()), size,
                                    unmap_attached_string, owned, out, &copied);
    });
  }
  return made ? *made : make_result(env, payload.bytes(), kind);
}

}  // namespace fastmd::node
