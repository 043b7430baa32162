// SCM_RIGHTS send and receive (see fastmd/platform/fd_passing.hpp). Receiving close-on-exec
// is the implementation directory's (os::receive_message in linux/ or posix/sockets.cpp).
#include "fastmd/platform/fd_passing.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "fastmd/platform/unix_socket.hpp"
#include "os.hpp"

namespace fastmd::platform {

using proto::Errc;
using proto::Error;

namespace {

// Room for the most fds a frame may carry, plus slack so an over-full message is seen as
// such (and its fds closed) rather than silently truncated.
constexpr std::size_t kFdSlots = proto::kMaxFdsPerFrame + 4;

}  // namespace

proto::Result<SendResult> send_with_fds(int socket, std::span<const iovec> data,
                                        std::span<const int> fds) {
  if (fds.size() > proto::kMaxFdsPerFrame) {
    return Error{Errc::invalid_field, "at most " + std::to_string(proto::kMaxFdsPerFrame) +
                                          " fds travel with one frame"};
  }
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(data.data());
  message.msg_iovlen = data.size();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * proto::kMaxFdsPerFrame)];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof(control));
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t sent = os::send_message(socket, &message);
    if (sent >= 0) return SendResult{static_cast<std::size_t>(sent), false};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return SendResult{0, true};
    return system_error("sendmsg", errno);
  }
}

proto::Result<RecvResult> recv_with_fds(int socket, std::span<std::byte> buffer,
                                        std::size_t max_fds) {
  iovec vector{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdSlots)];
  msghdr message{};
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);

  ssize_t received;
  do {
    received = os::receive_message(socket, &message);
  } while (received < 0 && errno == EINTR);
  if (received < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      RecvResult result;
      result.would_block = true;
      return result;
    }
    return system_error("recvmsg", errno);
  }

  RecvResult result;
  result.bytes = static_cast<std::size_t>(received);
  result.eof = received == 0 && !buffer.empty();
  // Take ownership of every fd first, so each is closed on any error below.
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      result.fds.emplace_back(fd);
    }
  }
  if (message.msg_flags & MSG_CTRUNC) {
    return Error{Errc::fd_mismatch, "ancillary data truncated (MSG_CTRUNC): too many fds sent"};
  }
  if (result.fds.size() > max_fds) {
    return Error{Errc::fd_mismatch, std::to_string(result.fds.size()) +
                                        " fds arrived where at most " + std::to_string(max_fds) +
                                        " are accepted"};
  }
  return result;
}

}  // namespace fastmd::platform
