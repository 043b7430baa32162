// fastmd/platform/wake_up.hpp — a wake-up fd: readable once any thread called notify(), until
// the owner drain()s it, so a thread blocked in poll() on it (beside other fds) can be woken.
// Linux has one fd for this (an eventfd); portable POSIX uses a pipe, whose read end is fd().
#pragma once

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

class WakeUp {
 public:
  /// Opens a wake-up (close-on-exec, non-blocking). IO_ERROR naming the call when the process
  /// is out of fds.
  static proto::Result<WakeUp> open();

  /// An empty wake-up: fd() is -1 and notify() does nothing.
  WakeUp() = default;

  /// Readable (POLLIN) from the first notify() after a drain() until the next drain().
  int fd() const { return read_end_.get(); }
  explicit operator bool() const { return read_end_.valid(); }

  /// Makes fd() readable. Any thread; async-signal-safe; never blocks (a wake-up already
  /// pending is enough).
  void notify() const;

  /// Consumes every pending notify(): fd() is quiet until the next one.
  void drain() const;

 private:
  WakeUp(UniqueFd read_end, UniqueFd write_end)
      : read_end_(std::move(read_end)), write_end_(std::move(write_end)) {}

  UniqueFd read_end_;
  UniqueFd write_end_;  // empty where one fd does both (an eventfd)
};

}  // namespace fastmd::platform
