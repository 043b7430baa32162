// fd_readiness.hpp — Asio readiness waits on an fd that something else owns. A session's
// socket belongs to its FramedSocket (transport/framed_socket.hpp), which reads and writes it;
// Asio only says when to. Asio's descriptor closes the fd it holds when it goes, so this one
// gives the fd back instead: the fd keeps its one owner.
#pragma once

#include <utility>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

namespace fastmd::daemon {

class FdReadiness {
 public:
  FdReadiness(asio::io_context& io, int fd) : descriptor_(io, fd) {}
  FdReadiness(const FdReadiness&) = delete;
  FdReadiness& operator=(const FdReadiness&) = delete;
  ~FdReadiness() { stop(); }

  /// Calls `handler(asio::error_code)` once the fd is readable. Asio's reactor is
  /// edge-triggered: wait only after a read found nothing (EAGAIN).
  template <class Handler>
  void wait_readable(Handler&& handler) {
    descriptor_.async_wait(asio::posix::stream_descriptor::wait_read,
                           std::forward<Handler>(handler));
  }

  /// Calls `handler(asio::error_code)` once the fd is writable.
  template <class Handler>
  void wait_writable(Handler&& handler) {
    descriptor_.async_wait(asio::posix::stream_descriptor::wait_write,
                           std::forward<Handler>(handler));
  }

  /// Cancels the waits (their handlers see an error) and lets go of the fd without closing it.
  void stop() {
    if (descriptor_.is_open()) (void)descriptor_.release();
  }

 private:
  asio::posix::stream_descriptor descriptor_;
};

}  // namespace fastmd::daemon
