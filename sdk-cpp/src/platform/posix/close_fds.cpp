// Portable: close() each fd from 3 up to the fd limit (getrlimit's RLIMIT_NOFILE soft limit;
// getrlimit is a system call that takes no lock, though POSIX does not list it as
// async-signal-safe), capped so a limit of millions costs no more than 65,536 calls; an fd
// above the cap, or above a soft limit lowered after it was opened, stays open (macOS has no
// close_range; FreeBSD's closefrom would do it in one). Differs from linux/, which closes
// ranges in one call each.
#include "fastmd/platform/close_fds.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace fastmd::platform {

namespace {

constexpr rlim_t kMaxFdsClosed = 65536;

}  // namespace

void close_inherited_fds(int keep) {
  rlimit limit{};
  const rlim_t top = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                         ? std::min(limit.rlim_cur, kMaxFdsClosed)
                         : kMaxFdsClosed;
  for (rlim_t fd = 3; fd < top; ++fd) {
    if (static_cast<int>(fd) != keep) ::close(static_cast<int>(fd));
  }
}

}  // namespace fastmd::platform
