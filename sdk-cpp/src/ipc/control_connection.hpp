// control_connection.hpp — a peer's connection to fastmd-ipcd (PROTOCOL.md §3): the
// ipc.hello handshake, then the daemon's announcements — introductions with their fds,
// peers gone, methods without workers, shutdown.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "fastmd/proto/control.hpp"
#include "framed_socket.hpp"

namespace fastmd::ipc::detail {

/// `ipc.introduce` with its fds: the direct channel's socket and the peer's segment memfd
/// (invalid when the peer has none).
struct Introduction {
  proto::Introduce peer;
  platform::UniqueFd channel;
  platform::UniqueFd segment;
};

/// The daemon's answer to a request this peer sent after the handshake (`ipc.want`): `error`
/// is empty for success, else the daemon's code and message, unchanged.
struct RequestAnswer {
  std::uint64_t id = 0;
  std::optional<proto::Error> error;
};

using ControlEvent = std::variant<Introduction, proto::PeerGone, proto::PeerDraining,
                                  proto::NoWorker, proto::Shutdown, RequestAnswer>;

class ControlConnection {
 public:
  /// Connects to the daemon at `path` and completes `ipc.hello` within `timeout`.
  /// DAEMON_UNREACHABLE when nothing answers there; the daemon's error when it refuses.
  static proto::Result<std::unique_ptr<ControlConnection>> open(const std::string& path,
                                                                const proto::Hello& hello,
                                                                std::chrono::milliseconds timeout);

  /// Completes `ipc.hello` within `timeout` on `socket`, a connection to the daemon that is
  /// already open (the one a daemon hands to a worker it started); `where` names it in errors.
  static proto::Result<std::unique_ptr<ControlConnection>> open_on(
      platform::UniqueFd socket, const std::string& where, const proto::Hello& hello,
      std::chrono::milliseconds timeout);

  /// Connects and sends `ipc.hello` without waiting for the reply, for an event loop (the
  /// Node addon): the owner calls handshake() whenever fd() is readable, and bounds the wait.
  static proto::Result<std::unique_ptr<ControlConnection>> start(const std::string& path,
                                                                 const proto::Hello& hello);
  /// start() on a connection that is already open; `where` names it in errors.
  static proto::Result<std::unique_ptr<ControlConnection>> start_on(platform::UniqueFd socket,
                                                                    std::string where,
                                                                    const proto::Hello& hello);

  /// Takes the hello reply if it has arrived: true once the handshake is done (reply() and
  /// take_segment_fd() are valid), false while it is still to come, or the error that ends
  /// the connection (the daemon's refusal with its code, or its going away).
  proto::Result<bool> handshake();

  /// Writes queued because the socket was full: flush() when fd() is writable; `notify` runs
  /// when a write is queued.
  bool wants_write() const { return socket_.wants_write(); }
  proto::Status flush() { return socket_.flush(); }
  void on_backlog(std::function<void()> notify) { socket_.on_backlog(std::move(notify)); }

  int fd() const { return socket_.fd(); }
  const proto::HelloReply& reply() const { return reply_; }

  /// The memfd of this peer's own segment (from the hello reply); invalid when none was given.
  platform::UniqueFd take_segment_fd() { return std::move(segment_fd_); }

  /// Reads what has arrived without blocking. false: the daemon closed the connection.
  proto::Result<bool> receive() { return socket_.receive(); }

  /// Sends a notification to the daemon (a worker's ipc.load). Not sent (false) while an
  /// earlier write still waits for the socket or the connection failed: such a report is
  /// superseded by the next one, so it is never queued behind a daemon that does not read.
  bool notify(std::string_view method, proto::ByteView params);

  /// Sends `ipc.want {method}` as request `id` (ids above kHelloId); its answer comes back
  /// from next() as a RequestAnswer.
  proto::Status send_want(std::uint64_t id, std::string_view method);

  /// The id of the `ipc.hello` request; later requests use larger ids.
  static constexpr std::uint64_t kHelloId = 1;

  /// The next announcement, std::nullopt when more bytes are needed, or the error that ends
  /// the connection. Unknown notifications are skipped (forward compatibility).
  proto::Result<std::optional<ControlEvent>> next();

 private:
  ControlConnection(platform::UniqueFd socket, std::string where);

  FramedSocket socket_;
  std::string where_;  // names the daemon in errors
  proto::Decoder body_decoder_;
  proto::HelloReply reply_;
  platform::UniqueFd segment_fd_;
};

}  // namespace fastmd::ipc::detail
