// fastmd/platform/cpu_load.hpp — how busy the machine's cores are now, for a thread deciding
// whether to spin while it waits: the threads the scheduler could run at this moment against
// the cores this process may use. Linux reads the instantaneous count (the fourth field of
// /proc/loadavg, proc(5)) with one pread of a file kept open, about 2 µs; portable POSIX has
// only getloadavg(3)'s one-minute average, which follows a change within tens of seconds
// (docs/platforms.md).
#pragma once

#include <optional>

#include "fastmd/platform/fd.hpp"

namespace fastmd::platform {

struct CpuLoad {
  unsigned runnable = 0;  // threads running or ready to run, machine-wide, the caller included
  unsigned cores = 0;     // cores this process may run on
};

class CpuLoadReader {
 public:
  /// Opens what read() reads; a reader that cannot open it answers nullopt.
  CpuLoadReader();

  /// The load now, or nullopt when the platform cannot tell. Any thread.
  ///
  ///     CpuLoadReader load;
  ///     if (auto now = load.read(); now && now->runnable <= now->cores) { /* a core is free */ }
  std::optional<CpuLoad> read() const;

 private:
  UniqueFd source_;  // Linux: /proc/loadavg; posix: none (getloadavg needs no file)
  unsigned cores_ = 0;
};

}  // namespace fastmd::platform
