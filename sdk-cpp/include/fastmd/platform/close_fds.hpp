// fastmd/platform/close_fds.hpp — in a child between fork() and exec(), closing every fd it
// inherited but the standard three and one it keeps, close-on-exec or not, so nothing of the
// parent's (its sockets, pipes to its own parent) lives on in the program it starts. Linux
// closes ranges in one call each (close_range); portable POSIX closes one fd at a time up to
// the fd limit (docs/platforms.md).
#pragma once

namespace fastmd::platform {

/// Closes every fd above 2 but `keep` (-1: none kept). Callable after fork() in a
/// multithreaded process: Linux makes only close_range calls (kernel 5.9+); portable POSIX
/// makes getrlimit, which takes no lock, and close calls, and stops at the soft fd limit or at
/// 65,536, whichever is lower, so an fd above that stays open. Errors are ignored: an fd that
/// was not open is fine.
///
///     if (::fork() == 0) { fastmd::platform::close_inherited_fds(report_fd); ::execve(...); }
void close_inherited_fds(int keep);

}  // namespace fastmd::platform
