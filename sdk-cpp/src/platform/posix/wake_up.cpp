// Portable wake-up: a non-blocking pipe; notify() writes a byte, drain() reads them all.
// Differs from linux/ in that POSIX has no eventfd.
#include "fastmd/platform/wake_up.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

namespace {

bool set_flags(int fd) {
  return ::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 &&
         ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0;
}

}  // namespace

proto::Result<WakeUp> WakeUp::open() {
  int ends[2];
  if (::pipe(ends) != 0) return system_error("pipe", errno);
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  if (!set_flags(read_end.get()) || !set_flags(write_end.get())) {
    return system_error("fcntl", errno);
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
