// Portable wake-up: a non-blocking pipe; notify() writes a byte, drain() reads them all.
// Differs from linux/ in that POSIX has no eventfd.
#include "fastmd/platform/wake_up.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "fastmd/platform/pipe.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

proto::Result<WakeUp> WakeUp::open() {
  auto pipe = make_pipe();
  if (!pipe) return pipe.error();
  auto& [read_end, write_end] = *pipe;
  for (const int fd : {read_end.get(), write_end.get()}) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
      return system_error("fcntl(O_NONBLOCK)", errno);
    }
  }
  return WakeUp(std::move(read_end), std::move(write_end));
}

void WakeUp::notify() const {
  const char one = 1;
  // EAGAIN: the pipe is full of wake-ups already, which is as good as one more.
  [[maybe_unused]] const auto written = ::write(write_end_.get(), &one, 1);
}

void WakeUp::drain() const {
  std::array<char, 256> bytes;
  while (::read(read_end_.get(), bytes.data(), bytes.size()) > 0) {
  }
}

}  // namespace fastmd::platform
