// fastmd/platform/fd_passing.hpp — sendmsg/recvmsg with SCM_RIGHTS, done strictly:
// received fds are CLOEXEC and owned at once; a truncated control message (MSG_CTRUNC)
// is an error for the connection, with every fd that did arrive closed.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

struct SendResult {
  std::size_t bytes = 0;     // bytes written (may be fewer than offered)
  bool would_block = false;  // non-blocking socket full: wait for writability, then go on
};

/// Writes `data` (gathered) on a stream socket, attaching `fds` to the first byte written.
/// A closed peer is an error (EPIPE), never SIGPIPE (MSG_NOSIGNAL, and SO_NOSIGPIPE where it
/// exists; docs/platforms.md). A partial write sends the fds anyway, so the caller must not
/// pass them again for the rest.
proto::Result<SendResult> send_with_fds(int socket, std::span<const iovec> data,
                                        std::span<const int> fds = {});

struct RecvResult {
  std::size_t bytes = 0;      // bytes read into the buffer
  bool eof = false;           // the peer closed its end
  bool would_block = false;   // non-blocking socket with nothing to read
  std::vector<UniqueFd> fds;  // fds that arrived with these bytes, owned
};

/// Reads into `buffer` and takes ownership of any SCM_RIGHTS fds (at most `max_fds` are
/// accepted; more, or MSG_CTRUNC, is an FD_MISMATCH error after closing them all).
proto::Result<RecvResult> recv_with_fds(int socket, std::span<std::byte> buffer,
                                        std::size_t max_fds = proto::kMaxFdsPerFrame);

}  // namespace fastmd::platform
