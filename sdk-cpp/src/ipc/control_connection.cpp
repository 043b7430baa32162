// The control connection (see control_connection.hpp).
#include "control_connection.hpp"

#include <poll.h>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

ControlConnection::ControlConnection(platform::UniqueFd socket, std::string where)
    : socket_(std::move(socket), proto::DecodeLimits::control()), where_(std::move(where)) {}

proto::Result<std::unique_ptr<ControlConnection>> ControlConnection::open(
    const std::string& path, const proto::Hello& hello, std::chrono::milliseconds timeout) {
  auto fd = platform::connect_unix(path);
  if (!fd) return fd.error();
  return open_on(std::move(*fd), "the daemon at " + path, hello, timeout);
}

proto::Result<std::unique_ptr<ControlConnection>> ControlConnection::start(
    const std::string& path, const proto::Hello& hello) {
  auto fd = platform::connect_unix(path);
  if (!fd) return fd.error();
  return start_on(std::move(*fd), "the daemon at " + path, hello);
}

proto::Result<std::unique_ptr<ControlConnection>> ControlConnection::start_on(
    platform::UniqueFd socket, std::string where, const proto::Hello& hello) {
  std::unique_ptr<ControlConnection> connection(
      new ControlConnection(std::move(socket), std::move(where)));
  const proto::ByteBuffer params = proto::encode_body(hello);
  auto sent = connection->socket_.send(proto::Message::request(kHelloId, proto::kHello, params));
  if (!sent) return sent.error();
  return connection;
}

proto::Result<bool> ControlConnection::handshake() {
  auto received = socket_.receive();
  if (!received) return received.error();
  auto inbound = socket_.next();
  if (!inbound) return inbound.error();
  if (!*inbound) {
    if (*received) return false;
    return Error{Errc::daemon_unreachable, where_ + " closed the connection during ipc.hello"};
  }
  const proto::Message& m = (*inbound)->message;
  // An error response with id 0 is the daemon's error for the whole connection (its own
  // HANDSHAKE_TIMEOUT, a frame it could not read): report the daemon's code (§3.6).
  if (m.is_response() && m.id == 0 && m.error) {
    return Error{m.error->code, "the daemon ended the connection during ipc.hello: " +
                                    std::string(m.error->message)};
  }
  if (!m.is_response() || m.id != kHelloId) {
    return Error{Errc::unexpected_message,
                 "the daemon sent '" + std::string(m.method) + "' before answering ipc.hello"};
  }
  if (m.error) {
    return Error{m.error->code, "the daemon refused ipc.hello: " + std::string(m.error->message)};
  }
  auto reply = proto::decode_body<proto::HelloReply>(body_decoder_, m.payload);
  if (!reply) return reply.error();
  reply_ = std::move(*reply);
  if (reply_.segment && !(*inbound)->fds.empty()) segment_fd_ = std::move((*inbound)->fds.front());
  return true;
}

proto::Result<std::unique_ptr<ControlConnection>> ControlConnection::open_on(
    platform::UniqueFd socket, const std::string& where, const proto::Hello& hello,
    std::chrono::milliseconds timeout) {
  auto connection = start_on(std::move(socket), where, hello);
  if (!connection) return connection.error();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto done = (*connection)->handshake();
    if (!done) return done.error();
    if (*done) return std::move(*connection);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Error{Errc::handshake_timeout, where + " did not answer ipc.hello within " +
                                                std::to_string(timeout.count()) + " ms"};
    }
    pollfd waiting{(*connection)->fd(), POLLIN, 0};
    (void)::poll(&waiting, 1, static_cast<int>(left.count()));
  }
}

bool ControlConnection::notify(std::string_view method, proto::ByteView params) {
  if (socket_.wants_write() && (!socket_.flush() || socket_.wants_write())) return false;
  return static_cast<bool>(socket_.send(proto::Message::notification(method, params)));
}

proto::Result<std::optional<ControlEvent>> ControlConnection::next() {
  for (;;) {
    auto inbound = socket_.next();
    if (!inbound) return inbound.error();
    if (!*inbound) return std::optional<ControlEvent>{};
    Inbound& in = **inbound;
    if (in.message.is_response() && in.message.id > kHelloId) {
      RequestAnswer answer{in.message.id, std::nullopt};
      if (in.message.error) {
        answer.error = Error{in.message.error->code, std::string(in.message.error->message)};
      }
      return std::optional<ControlEvent>{std::move(answer)};
    }
    if (!in.message.is_notification()) continue;  // nothing else is answered to us
    const std::string_view method = in.message.method;
    if (method == proto::kIntroduce) {
      auto peer = proto::decode_body<proto::Introduce>(body_decoder_, in.message.payload);
      if (!peer) return peer.error();
      if (in.fds.empty()) {
        return Error{Errc::fd_mismatch, "ipc.introduce arrived without its channel fd"};
      }
      Introduction intro{std::move(*peer), std::move(in.fds[0]), {}};
      if (intro.peer.segment && in.fds.size() > 1) intro.segment = std::move(in.fds[1]);
      return std::optional<ControlEvent>{std::move(intro)};
    }
    if (method == proto::kPeerGone) {
      auto gone = proto::decode_body<proto::PeerGone>(body_decoder_, in.message.payload);
      if (!gone) return gone.error();
      return std::optional<ControlEvent>{std::move(*gone)};
    }
    if (method == proto::kPeerDraining) {
      auto draining = proto::decode_body<proto::PeerDraining>(body_decoder_, in.message.payload);
      if (!draining) return draining.error();
      return std::optional<ControlEvent>{std::move(*draining)};
    }
    if (method == proto::kNoWorker) {
      auto none = proto::decode_body<proto::NoWorker>(body_decoder_, in.message.payload);
      if (!none) return none.error();
      return std::optional<ControlEvent>{std::move(*none)};
    }
    if (method == proto::kShutdown) {
      auto shutdown = proto::decode_body<proto::Shutdown>(body_decoder_, in.message.payload);
      if (!shutdown) return shutdown.error();
      return std::optional<ControlEvent>{std::move(*shutdown)};
    }
  }
}

proto::Status ControlConnection::send_want(std::uint64_t id, std::string_view method) {
  proto::Want want;
  want.method.assign(method);
  const proto::ByteBuffer params = proto::encode_body(want);
  return socket_.send(proto::Message::request(id, proto::kWant, params));
}

}  // namespace fastmd::ipc::detail
