// A raw protocol peer for tests (see raw_peer.hpp).
#include "raw_peer.hpp"

#include <poll.h>
#include <unistd.h>

#include <stdexcept>

#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::test {

RawPeer RawPeer::connect(const std::string& path) {
  auto socket = platform::connect_unix(path);
  if (!socket) throw std::runtime_error(socket.error().to_string());
  return RawPeer(std::move(*socket));
}

RawPeer::RawPeer(platform::UniqueFd socket, std::uint32_t max_frame)
    : socket_(std::move(socket)), reader_(max_frame) {}

void RawPeer::send(const proto::Message& message, std::span<const int> fds) {
  proto::ByteBuffer frame;
  proto::append_frame(message, frame);
  if (!send_bytes(frame, fds)) throw std::runtime_error("send: the peer has closed");
}

bool RawPeer::send_bytes(proto::ByteView bytes, std::span<const int> fds) {
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    iovec part{const_cast<std::byte*>(bytes.data()) + offset, bytes.size() - offset};
    auto sent = platform::send_with_fds(socket_.get(), std::span(&part, 1),
                                        offset == 0 ? fds : std::span<const int>{});
    if (!sent) return false;
    offset += sent->bytes;
  }
  return true;
}

bool RawPeer::fill(std::chrono::milliseconds timeout) {
  if (eof_) return false;
  pollfd readable{socket_.get(), POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(timeout.count())) <= 0) return false;
  auto received = platform::recv_with_fds(socket_.get(), reader_.writable());
  if (!received || received->eof) {
    eof_ = true;
    return false;
  }
  reader_.commit(received->bytes);
  for (auto& fd : received->fds) pending_fds_.push_back(std::move(fd));
  return true;
}

std::optional<Received> RawPeer::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto frame = reader_.next();
    if (!frame) throw std::runtime_error("bad frame: " + frame.error().to_string());
    if (*frame) {
      Received out;
      out.body.assign((*frame)->begin(), (*frame)->end());
      proto::Decoder decoder;
      auto message = decoder.decode(out.body);
      if (!message) throw std::runtime_error("bad message: " + message.error().to_string());
      out.message = *message;
      for (std::uint32_t i = 0; i < out.message.fds && !pending_fds_.empty(); ++i) {
        out.fds.push_back(std::move(pending_fds_.front()));
        pending_fds_.pop_front();
      }
      return out;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(left)) return std::nullopt;
  }
}

std::optional<Received> RawPeer::receive_notification(std::string_view method,
                                                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto frame = receive(left);
    if (!frame) return std::nullopt;
    if (frame->message.is_notification() && frame->message.method == method) return frame;
  }
}

bool RawPeer::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!fill(left) && !eof_) return false;
    // Drop what arrived: the caller only waits for the end.
    while (true) {
      auto frame = reader_.next();
      if (!frame || !*frame) break;
    }
    pending_fds_.clear();
  }
  return true;
}

Received RawPeer::hello(const proto::Hello& hello, std::chrono::milliseconds timeout) {
  const proto::ByteBuffer params = proto::encode_body(hello);
  send(proto::Message::request(next_id_++, proto::kHello, params));
  auto reply = receive(timeout);
  if (!reply) throw std::runtime_error("no answer to ipc.hello");
  return std::move(*reply);
}

Received RawPeer::status(std::chrono::milliseconds timeout) {
  send(proto::Message::request(next_id_++, proto::kStatus));
  auto reply = receive(timeout);
  if (!reply) throw std::runtime_error("no answer to ipc.status");
  return std::move(*reply);
}

proto::Hello worker_hello(const std::vector<std::string>& methods, std::string name) {
  proto::Hello hello;
  hello.role = proto::Role::worker;
  hello.pid = static_cast<std::uint32_t>(::getpid());
  hello.name = std::move(name);
  for (const auto& method : methods) hello.methods.push_back({method, 1});
  hello.shm = false;
  return hello;
}

proto::Hello client_hello(const std::vector<std::string>& wants, std::string name) {
  proto::Hello hello;
  hello.role = proto::Role::client;
  hello.pid = static_cast<std::uint32_t>(::getpid());
  hello.name = std::move(name);
  hello.wants = wants;
  hello.shm = false;
  return hello;
}

proto::Hello observer_hello() {
  proto::Hello hello;
  hello.role = proto::Role::observer;
  hello.pid = static_cast<std::uint32_t>(::getpid());
  hello.name = "observer";
  hello.shm = false;
  return hello;
}

}  // namespace fastmd::test
