// raw_peer.hpp — a test's hand on a socket speaking the wire protocol directly (PROTOCOL.md
// §1): frames out (or any bytes, for hostile cases), frames in with the fds their `fds` field
// announces, every receive bounded by a timeout. Also a few control-channel shortcuts.
//
//     auto worker = RawPeer::connect(daemon.socket_path());
//     auto reply = worker.hello(worker_hello({"transform"}));
//     REQUIRE_FALSE(reply.message.error);
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/frame_reader.hpp"

namespace fastmd::test {

using namespace std::chrono_literals;

/// One frame received: its body, the message viewing it, and the fds it announced.
struct Received {
  proto::ByteBuffer body;
  proto::Message message;  // views `body` (which keeps its storage when moved)
  std::vector<platform::UniqueFd> fds;

  /// Decodes this frame's params/result as the control body T; throws when it fails.
  template <class T>
  T body_as() const {
    proto::Decoder decoder;
    auto decoded = proto::decode_body<T>(decoder, message.payload);
    if (!decoded)
      throw std::runtime_error("bad " + std::string(T::kWhat) + ": " + decoded.error().to_string());
    return std::move(*decoded);
  }
};

class RawPeer {
 public:
  /// Connects to `path`; throws std::runtime_error when it cannot.
  static RawPeer connect(const std::string& path);
  explicit RawPeer(platform::UniqueFd socket,
                   std::uint32_t max_frame = proto::kDefaultMaxControlFrame);

  int fd() const { return socket_.get(); }

  /// Sends one frame of `message` with `fds` attached; throws when the write fails.
  void send(const proto::Message& message, std::span<const int> fds = {});
  /// Sends raw bytes (hostile cases); returns false when the peer has closed.
  bool send_bytes(proto::ByteView bytes, std::span<const int> fds = {});

  /// The next frame, or std::nullopt when none arrived within `timeout` or the peer closed
  /// (see closed()). Throws on a frame that does not decode.
  std::optional<Received> receive(std::chrono::milliseconds timeout = 5s);
  /// The next frame that is a notification of `method`, skipping others; std::nullopt after
  /// `timeout`.
  std::optional<Received> receive_notification(std::string_view method,
                                               std::chrono::milliseconds timeout = 5s);
  /// True once EOF was seen.
  bool closed() const { return eof_; }
  /// Reads (and drops) everything until EOF; true when EOF came within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout = 5s);

  /// Sends ipc.hello with `hello` as params and returns the response.
  Received hello(const proto::Hello& hello, std::chrono::milliseconds timeout = 5s);
  /// Sends ipc.status and returns the response.
  Received status(std::chrono::milliseconds timeout = 5s);

 private:
  /// Reads once (after waiting at most `timeout`); false on timeout or EOF.
  bool fill(std::chrono::milliseconds timeout);

  platform::UniqueFd socket_;
  proto::FrameReader reader_;
  std::deque<platform::UniqueFd> pending_fds_;
  std::uint64_t next_id_ = 1;
  bool eof_ = false;
};

/// An ipc.hello for a worker serving `methods` (concurrency 1 each).
proto::Hello worker_hello(const std::vector<std::string>& methods, std::string name = "worker");
/// An ipc.hello for a client wanting `wants` (empty: everything).
proto::Hello client_hello(const std::vector<std::string>& wants, std::string name = "client");
/// An ipc.hello for an observer.
proto::Hello observer_hello();

}  // namespace fastmd::test
