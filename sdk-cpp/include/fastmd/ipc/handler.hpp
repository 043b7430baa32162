// fastmd/ipc/handler.hpp — what a worker serves: methods and their handlers. The same
// MethodTable serves the fast path (Worker) and the legacy path (NDJSON on stdio), so
// both run the very same code.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fastmd/proto/control.hpp"
#include "fastmd/proto/error.hpp"

namespace fastmd::ipc {

using proto::ByteView;

/// Where a handler writes its result. The transport decides where the bytes land (a block
/// of the worker's shared-memory segment, an inline frame, an NDJSON line), so a handler
/// writes each byte once. append() may be called any number of times.
class ResultWriter {
 public:
  virtual ~ResultWriter() = default;

  /// Appends bytes to the result.
  virtual void append(ByteView bytes) = 0;

  /// Hints the total size, so the transport can pick and reserve the right place once.
  virtual void reserve(std::size_t /*total_bytes*/) {}

  void append(std::string_view text) { append(proto::as_bytes(text)); }
};

/// A handler: reads `params` (valid only during the call: it may point into shared memory)
/// and writes the result to `out`. To fail the call, throw: fastmd::ipc::CallError for a
/// specific code, any other std::exception for HANDLER_FAILED with its what().
using Handler = std::function<void(ByteView params, ResultWriter& out)>;

/// Thrown by a handler to fail its call with a specific code.
class CallError : public std::runtime_error {
 public:
  CallError(proto::Errc code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  proto::Errc code() const { return code_; }

 private:
  proto::Errc code_;
};

/// The methods a worker serves, each with its handler and concurrency (how many calls of
/// it may run at once).
class MethodTable {
 public:
  struct Entry {
    Handler handler;
    std::uint32_t concurrency = 1;
  };

  /// Adds (or replaces) a method. Names are 1–128 bytes (PROTOCOL.md §2).
  MethodTable& add(std::string name, Handler handler, std::uint32_t concurrency = 1) {
    if (name.empty() || name.size() > proto::kMaxMethodName) {
      throw std::invalid_argument("method names are 1 to 128 bytes");
    }
    if (concurrency == 0) throw std::invalid_argument("a method's concurrency must be >= 1");
    entries_[std::move(name)] = Entry{std::move(handler), concurrency};
    return *this;
  }

  /// The entry for `name`, or nullptr when the method is not served.
  const Entry* find(std::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }

  /// The methods as announced in `ipc.hello`.
  std::vector<proto::MethodSpec> specs() const {
    std::vector<proto::MethodSpec> out;
    for (const auto& [name, entry] : entries_) out.push_back({name, entry.concurrency});
    return out;
  }

  /// The method names, sorted (as METHOD_NOT_FOUND lists them).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }

  bool empty() const { return entries_.empty(); }

 private:
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace fastmd::ipc
