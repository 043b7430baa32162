// fastmd/platform/fd.hpp — UniqueFd, the one owner of a file descriptor. Every fd in
// fastmd-ipc lives in one; nothing else calls close().
#pragma once

#include <unistd.h>

#include <utility>

namespace fastmd::platform {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  /// Gives up ownership without closing (e.g. to hand the fd to Asio or to Node).
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }

  /// Closes the current fd (if any) and takes `fd`. close() errors are ignored on purpose:
  /// on Linux the fd is gone either way, and retrying could close someone else's.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace fastmd::platform
