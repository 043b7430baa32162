// The legacy path's byte streams on Windows: the C runtime's _read()/_write() on its fds 0
// and 1 (the pipes Node gives a child), switched to binary mode first, since text mode would
// turn "\n" into "\r\n" and stop reading at a Ctrl-Z byte. Windows has no SIGPIPE: a write to
// a pipe whose reader is gone fails (EINVAL or EPIPE from the C runtime), and that is the
// error. The POSIX version is platform/stdio_stream.cpp.
#include "fastmd/platform/stdio_stream.hpp"

#include <fcntl.h>
#include <io.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

namespace fastmd::platform {

namespace {

proto::Error stream_error(const char* call, int error) {
  return {proto::Errc::io_error, std::string(call) + " failed: " + std::strerror(error)};
}

// _read and _write take an unsigned count and return an int.
constexpr std::size_t kMaxChunk = INT_MAX;

}  // namespace

// The fds must be open: Node gives its children pipes for both. (The C runtime's handler for
// an invalid parameter would end the process; there is no quiet way to ask first.)
void prepare_stdio_streams(int input_fd, int output_fd) {
  ::_setmode(input_fd, _O_BINARY);
  ::_setmode(output_fd, _O_BINARY);
}

proto::Result<std::size_t> read_stream(int fd, std::span<std::byte> buffer) {
  const auto wanted = static_cast<unsigned>(std::min(buffer.size(), kMaxChunk));
  const int got = ::_read(fd, buffer.data(), wanted);
  if (got < 0) return stream_error("_read() of the input", errno);
  return static_cast<std::size_t>(got);
}

proto::Status write_stream(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const auto wanted = static_cast<unsigned>(std::min(bytes.size(), kMaxChunk));
    const int wrote = ::_write(fd, bytes.data(), wanted);
    if (wrote < 0) return stream_error("_write() of the responses", errno);
    bytes = bytes.subspan(static_cast<std::size_t>(wrote));
  }
  return {};
}

}  // namespace fastmd::platform
