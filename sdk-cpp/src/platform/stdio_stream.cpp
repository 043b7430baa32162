// The legacy path's byte streams on POSIX (Linux, macOS, FreeBSD): read() and write() on the
// fds as they are. The Windows version is platform/windows/stdio_stream.cpp.
#include "fastmd/platform/stdio_stream.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

namespace fastmd::platform {

namespace {

proto::Error stream_error(const char* call, int error) {
  return {proto::Errc::io_error, std::string(call) + " failed: " + std::strerror(error)};
}

}  // namespace

void prepare_stdio_streams(int, int) {
  // A reader that goes away must give an error (EPIPE), not kill the worker mid-batch.
  std::signal(SIGPIPE, SIG_IGN);
}

proto::Result<std::size_t> read_stream(int fd, std::span<std::byte> buffer) {
  for (;;) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) return stream_error("read() of the input", errno);
  }
}

proto::Status write_stream(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t wrote = ::write(fd, bytes.data(), bytes.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return stream_error("write() of the responses", errno);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(wrote));
  }
  return {};
}

}  // namespace fastmd::platform
