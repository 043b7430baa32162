// JS payloads and results (see js_payload.hpp).
#include "js_payload.hpp"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace fastmd::node {

namespace {

// node_api_create_external_string_latin1 exists in Node >= 20.4 (experimental, so not
// declared under NAPI_VERSION 8): looked up at run time, used when present.
using CreateExternalLatin1 = napi_status (*)(napi_env, char*, std::size_t,
                                             void (*)(napi_env, void*, void*), void*, napi_value*,
                                             bool*);
CreateExternalLatin1 create_external_latin1 = nullptr;

// Below this an ordinary one-byte string is as fast (measured: docs/sdk-node.md).
constexpr std::size_t kExternalStringMin = 64 * 1024;

bool is_ascii(proto::ByteView bytes) {
  const auto* at = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  std::uint64_t seen = 0;
  // Words of 8 bytes, OR-ed together: one branch per 64 bytes lets the compiler vectorize.
  while (n >= 64) {
    std::uint64_t words[8];
    std::memcpy(words, at, sizeof(words));
    for (std::uint64_t word : words) seen |= word;
    if (seen & 0x8080808080808080ull) return false;
    at += 64;
    n -= 64;
  }
  unsigned char tail = 0;
  for (std::size_t i = 0; i < n; ++i) tail |= at[i];
  return ((seen & 0x8080808080808080ull) | (tail & 0x80)) == 0;
}

Napi::Value one_byte_string(Napi::Env env, proto::ByteView bytes) {
  const char* text = reinterpret_cast<const char*>(bytes.data());
  if (create_external_latin1 != nullptr && bytes.size() >= kExternalStringMin) {
    char* copy = static_cast<char*>(std::malloc(bytes.size()));
    if (copy == nullptr) throw Napi::Error::New(env, "out of memory for a result string");
    std::memcpy(copy, text, bytes.size());
    napi_value result;
    bool copied = false;
    const napi_status status = create_external_latin1(
        env, copy, bytes.size(), [](napi_env, void* data, void*) { std::free(data); }, nullptr,
        &result, &copied);
    if (status == napi_ok) return Napi::Value(env, result);
    std::free(copy);  // on failure the finalizer is not called
  }
  napi_value result;
  NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, text, bytes.size(), &result),
                       Napi::Value());
  return Napi::Value(env, result);
}

// Decodes UTF-8 into UTF-16, 8 ASCII bytes at a time where it can; false on any invalid
// sequence (overlong, surrogate, out of range, truncated), which V8 then decodes with
// replacement characters. Measured 2-4x faster than V8's own UTF-8 decoder in Node 20.
bool decode_utf8(proto::ByteView bytes, std::vector<char16_t>& out) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  out.resize(n);  // UTF-16 never needs more units than UTF-8 has bytes
  char16_t* o = out.data();
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
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
      *o++ = static_cast<char16_t>(cp);
      i += 3;
    } else if ((c & 0xF8) == 0xF0 && continuation(i + 1) && continuation(i + 2) &&
               continuation(i + 3)) {
      unsigned cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
                    (s[i + 3] & 0x3F);
      if (cp < 0x10000 || cp > 0x10FFFF) return false;
      cp -= 0x10000;
      *o++ = static_cast<char16_t>(0xD800 + (cp >> 10));
      *o++ = static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
      i += 4;
    } else {
      return false;
    }
  }
  out.resize(static_cast<std::size_t>(o - out.data()));
  return true;
}

Napi::Value utf8_string(Napi::Env env, proto::ByteView bytes) {
  // Reused across calls: decoding into already-touched memory avoids fresh page faults.
  thread_local std::vector<char16_t> units;
  if (decode_utf8(bytes, units)) {
    return Napi::String::New(env, units.data(), units.size());
  }
  return Napi::String::New(env, reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

void init_result_strings() {
  create_external_latin1 = reinterpret_cast<CreateExternalLatin1>(
      ::dlsym(RTLD_DEFAULT, "node_api_create_external_string_latin1"));
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
  if (is_ascii(bytes)) return one_byte_string(env, bytes);
  return utf8_string(env, bytes);
}

}  // namespace fastmd::node
