// JS payloads and results (see js_payload.hpp).
#include "js_payload.hpp"

#include <dlfcn.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

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

// Below this many bytes of UTF-8 an ordinary string is as fast (measured: docs/sdk-node.md).
constexpr std::size_t kExternalStringMin = 64 * 1024;

// The memory of external result strings, recycled. A fresh buffer is fresh pages: a 10 MiB
// result copied into one costs 2,560 first-touch page faults (about 18 ms here), ten times
// the copy. So when V8 collects an external string its buffer comes back here, and the next
// result of the same size class is written into pages that are already faulted in. Buffers
// are sized in powers of two (untouched tail pages cost nothing); at most kMaxFreeBytes of
// them wait here, the oldest are freed first.
class StringMemoryPool {
 public:
  static constexpr std::size_t kMaxFreeBytes = 64 * 1024 * 1024;

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
          free_bytes_ -= capacity;
          free_.erase(it);
          return data;
        }
      }
    }
    return std::malloc(capacity);
  }

  void release(void* data, std::size_t capacity) {
    FreeBuffer buffer{std::unique_ptr<void, FreeDeleter>(data), capacity};
    if (capacity > kMaxFreeBytes) return;
    std::lock_guard lock(mutex_);
    while (free_bytes_ + capacity > kMaxFreeBytes) {
      free_bytes_ -= free_.front().capacity;
      free_.erase(free_.begin());
    }
    free_bytes_ += capacity;
    free_.push_back(std::move(buffer));
  }

 private:
  struct FreeDeleter {
    void operator()(void* data) const { std::free(data); }
  };
  struct FreeBuffer {
    std::unique_ptr<void, FreeDeleter> data;
    std::size_t capacity;
  };

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

void give_back_string_memory(napi_env env, void* data, void* capacity_hint) {
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
    if (create(env, out, *length, give_back_string_memory, capacity, &result, &copied) == napi_ok) {
      return Napi::Value(env, result);
    }
    account_external_memory(env,
                            -static_cast<std::int64_t>(reinterpret_cast<std::size_t>(capacity)));
  }
  pool.release(out, reinterpret_cast<std::size_t>(capacity));  // no string, no finalizer
  return std::nullopt;
}

constexpr std::uint64_t kHighBits = 0x8080808080808080ull;

bool is_ascii(proto::ByteView bytes) {
  const auto* at = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  std::uint64_t seen = 0;
  // Words of 8 bytes, OR-ed together: one branch per 64 bytes lets the compiler vectorize.
  while (n >= 64) {
    std::uint64_t words[8];
    std::memcpy(words, at, sizeof(words));
    for (std::uint64_t word : words) seen |= word;
    if (seen & kHighBits) return false;
    at += 64;
    n -= 64;
  }
  unsigned char tail = 0;
  for (std::size_t i = 0; i < n; ++i) tail |= at[i];
  return ((seen & kHighBits) | (tail & 0x80)) == 0;
}

// Copies `bytes` to `out` while checking that they are ASCII, in one pass (measured 0.80 ms
// per 10 MiB against 1.1 ms for is_ascii then memcpy); false at the first 64 bytes that are
// not, with `out` partly written.
bool copy_if_ascii(proto::ByteView bytes, char* out) {
  const auto* at = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  while (n >= 64) {
    std::uint64_t words[8];
    std::memcpy(words, at, sizeof(words));
    std::uint64_t seen = 0;
    for (std::uint64_t word : words) seen |= word;
    if (seen & kHighBits) return false;
    std::memcpy(out, words, sizeof(words));
    at += 64;
    out += 64;
    n -= 64;
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

// Decodes UTF-8 into UTF-16 (`out` has room for bytes.size() units), 8 ASCII bytes at a time
// where it can. Returns the units written, or std::nullopt on any invalid sequence
// (overlong, surrogate, out of range, truncated), which V8 then decodes with replacement
// characters. Measured 2-4x faster than V8's own UTF-8 decoder in Node 20.
std::optional<std::size_t> decode_utf8(proto::ByteView bytes, char16_t* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  char16_t* o = out;
  auto continuation = [&](std::size_t at) { return at < n && (s[at] & 0xC0) == 0x80; };
  std::size_t i = 0;
  while (i < n) {
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
  if (bytes.size() >= kExternalStringMin) {
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
  payload.value_ = value;
  if (value.IsString()) {
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
    auto bytes = value.As<Napi::Uint8Array>();
    payload.bytes_ = {reinterpret_cast<const std::byte*>(bytes.Data()), bytes.ByteLength()};
    payload.max_size_ = bytes.ByteLength();
    return payload;
  }
  throw Napi::TypeError::New(value.Env(), "a payload must be a string, Buffer or Uint8Array");
}

std::size_t JsPayload::exact_size() const {
  if (!is_string_) return bytes_.size();
  std::size_t size = 0;  // with no buffer N-API reports the UTF-8 length
  NAPI_THROW_IF_FAILED(value_.Env(),
                       napi_get_value_string_utf8(value_.Env(), value_, nullptr, 0, &size), 0);
  return size;
}

std::size_t JsPayload::write_to(std::span<std::byte> out) const {
  if (!is_string_) {
    if (!bytes_.empty()) std::memcpy(out.data(), bytes_.data(), bytes_.size());
    return bytes_.size();
  }
  std::size_t written = 0;
  NAPI_THROW_IF_FAILED(
      value_.Env(),
      napi_get_value_string_utf8(value_.Env(), value_, reinterpret_cast<char*>(out.data()),
                                 out.size(), &written),
      0);
  return written;
}

Napi::Value make_result(Napi::Env env, proto::ByteView bytes, ResultKind kind) {
  if (kind == ResultKind::buffer) {
    return Napi::Buffer<std::uint8_t>::Copy(
        env, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  if (bytes.size() >= kExternalStringMin && create_external_latin1 != nullptr) {
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

}  // namespace fastmd::node
