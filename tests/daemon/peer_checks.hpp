// peer_checks.hpp — small assertions shared by the daemon's integration tests.
#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include <catch2/catch.hpp>

#include "raw_peer.hpp"

namespace fastmd::test {

/// Writes `text` to `path`, replacing it (a config file for the daemon under test).
inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::trunc);
  file << text;
  REQUIRE(file.good());
}

/// Requires `reply` to be a failed response with `code`.
inline void require_error(const Received& reply, proto::Errc code) {
  REQUIRE(reply.message.is_response());
  REQUIRE(reply.message.error.has_value());
  INFO("error message: " << reply.message.error->message);
  REQUIRE(reply.message.error->code == code);
}

/// Requires `reply` to be a successful ipc.hello response; returns the session id.
inline std::uint64_t require_welcome(const Received& reply) {
  REQUIRE(reply.message.is_response());
  if (reply.message.error) FAIL("hello refused: " << reply.message.error->message);
  return reply.body_as<proto::HelloReply>().session;
}

/// An ipc.status result, decoded, with lookups by dotted path ("counters.refused").
class StatusReport {
 public:
  explicit StatusReport(const Received& reply) : body_(reply.body) {
    auto message = decoder_.decode(body_);
    REQUIRE(message);
    REQUIRE(message->is_response());
    REQUIRE_FALSE(message->error);
    auto object = decoder_.unpack(message->payload);
    REQUIRE(object);
    root_ = *object;
  }

  /// The value at `path`, or nullptr.
  const msgpack::object* find(std::string_view path) const {
    const msgpack::object* at = &root_;
    while (!path.empty()) {
      const auto dot = path.find('.');
      const std::string_view key = path.substr(0, dot);
      path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
      if (at->type != msgpack::type::MAP) return nullptr;
      const msgpack::object* next = nullptr;
      for (std::uint32_t i = 0; i < at->via.map.size; ++i) {
        const auto& kv = at->via.map.ptr[i];
        if (kv.key.type == msgpack::type::STR &&
            std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
          next = &kv.val;
        }
      }
      if (next == nullptr) return nullptr;
      at = next;
    }
    return at;
  }

  /// The unsigned number at `path`; fails the test when absent.
  std::uint64_t number(std::string_view path) const {
    const msgpack::object* value = find(path);
    INFO("status path " << path);
    REQUIRE(value != nullptr);
    REQUIRE(value->type == msgpack::type::POSITIVE_INTEGER);
    return value->via.u64;
  }

  const msgpack::object& root() const { return root_; }

 private:
  proto::ByteBuffer body_;
  proto::Decoder decoder_;
  msgpack::object root_;
};

/// Asks `peer` (an established session) for the status until `done(report)` holds, for at
/// most `timeout`.
template <class Predicate>
bool wait_for_status(RawPeer& peer, Predicate done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    StatusReport report(peer.status());
    if (done(report)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace fastmd::test
