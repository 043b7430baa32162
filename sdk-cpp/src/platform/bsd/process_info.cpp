// macOS and FreeBSD process facts, which they have without /proc: the start time from
// sysctl(KERN_PROC_PID)'s kinfo_proc (p_starttime on macOS, ki_start on FreeBSD, both a
// timeval), the executable from proc_pidpath(3) on macOS and sysctl(KERN_PROC_PATHNAME) on
// FreeBSD, each the kernel's absolute path. Replaces posix/process_info.cpp, which knows
// neither. Written against those man pages; untested (docs/platforms.md).
#include "fastmd/platform/process_info.hpp"

// sysctl(3) asks for <sys/types.h> first.
#include <sys/types.h>

#include <sys/sysctl.h>
#include <unistd.h>
#ifdef __APPLE__
#include <libproc.h>
#else
#include <sys/user.h>
#endif

#include <climits>

namespace fastmd::platform {

std::uint64_t own_start_time() {
  int query[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, static_cast<int>(::getpid())};
  struct kinfo_proc info {};
  std::size_t size = sizeof info;
  if (::sysctl(query, 4, &info, &size, nullptr, 0) != 0 || size == 0) return 0;
#ifdef __APPLE__
  const struct timeval start = info.kp_proc.p_starttime;
#else
  const struct timeval start = info.ki_start;
#endif
  // Microseconds since the epoch: unlike Linux's ticks since boot, but equally unique per pid.
  return static_cast<std::uint64_t>(start.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(start.tv_usec);
}

std::string own_executable_path() {
#ifdef __APPLE__
  char path[PROC_PIDPATHINFO_MAXSIZE];
  if (::proc_pidpath(::getpid(), path, sizeof path) <= 0) return {};
  return path;
#else
  char path[PATH_MAX];
  int query[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
  std::size_t size = sizeof path;
  if (::sysctl(query, 4, path, &size, nullptr, 0) != 0) return {};
  return path;
#endif
}

}  // namespace fastmd::platform
