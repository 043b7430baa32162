// Portable POSIX exit watcher: there is none. POSIX offers no fd that becomes readable when
// an unrelated process exits, so this says so with an empty UniqueFd: a session's liveness
// comes from EOF on its socket alone, and the daemon sees its own workers exit by SIGCHLD.
// (macOS and FreeBSD have one: bsd/exit_watcher.cpp, kqueue's EVFILT_PROC.)
#include "fastmd/platform/exit_watcher.hpp"

namespace fastmd::platform {

proto::Result<UniqueFd> open_exit_watcher(pid_t) {
  return UniqueFd{};
}

}  // namespace fastmd::platform
