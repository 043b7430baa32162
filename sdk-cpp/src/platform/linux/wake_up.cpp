// Linux wake-up: one eventfd, whose counter is both the notification and its drain. Differs
// from posix/ in needing one fd instead of a pipe's two.
#include "fastmd/platform/wake_up.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

proto::Result<WakeUp> WakeUp::open() {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return system_error("eventfd", errno);
  return WakeUp(std::move(fd), UniqueFd{});
}

void WakeUp::notify() const {
  const std::uint64_t one = 1;
  // A full counter already means "wake up"; nothing else can fail for a valid eventfd.
  [[maybe_unused]] const auto written = ::write(read_end_.get(), &one, sizeof(one));
}

void WakeUp::drain() const {
  std::uint64_t count;
  [[maybe_unused]] const auto drained = ::read(read_end_.get(), &count, sizeof(count));
}

}  // namespace fastmd::platform
