// fastmd/ipc/reply.hpp — the result of a call: bytes that either live in the worker's
// shared-memory segment (viewed in place, the block released when the Reply is destroyed)
// or are owned by the Reply (small inline results).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fastmd/proto/message.hpp"

namespace fastmd::ipc {

/// A call's result bytes. Move-only; cheap to move (no copy of the bytes).
///
///     fastmd::ipc::Reply reply = client->call("echo", bytes).value();
///     std::string_view html = reply.text();   // valid while `reply` lives
class Reply {
 public:
  /// Keeps viewed bytes valid (a shared-memory block, a mapping); releases them when destroyed.
  class Hold {
   public:
    virtual ~Hold() = default;
  };

  Reply() = default;
  /// A reply owning its bytes.
  explicit Reply(std::vector<std::byte> bytes) : owned_(std::move(bytes)), view_(owned_) {}
  /// A reply viewing bytes kept valid by `hold`.
  Reply(proto::ByteView bytes, std::unique_ptr<Hold> hold) : view_(bytes), hold_(std::move(hold)) {}

  Reply(Reply&&) noexcept = default;
  Reply& operator=(Reply&&) noexcept = default;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  /// The result bytes.
  proto::ByteView bytes() const { return view_; }
  /// The result as text (the reference job's HTML is UTF-8).
  std::string_view text() const { return proto::as_chars(view_); }
  std::size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }

  /// True when the bytes are viewed in shared memory rather than owned.
  bool in_shared_memory() const { return hold_ != nullptr; }

  /// A copy that outlives the Reply.
  std::string to_string() const { return std::string(text()); }

 private:
  std::vector<std::byte> owned_;
  proto::ByteView view_;
  std::unique_ptr<Hold> hold_;
};

}  // namespace fastmd::ipc
