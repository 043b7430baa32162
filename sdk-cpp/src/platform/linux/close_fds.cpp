// Linux: close_range(2) (5.9+, glibc 2.34+), one call on each side of the fd kept. Differs
// from posix/, which closes one fd at a time.
#include "fastmd/platform/close_fds.hpp"

#include <unistd.h>

namespace fastmd::platform {

void close_inherited_fds(int keep) {
  if (keep < 3) {
    ::close_range(3, ~0U, 0);
    return;
  }
  if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
  ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
}

}  // namespace fastmd::platform
