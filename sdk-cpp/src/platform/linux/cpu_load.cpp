// The Linux CPU load: /proc/loadavg's fourth field, "runnable/total", is the scheduler's count
// of running and ready threads at the moment of the read (proc(5)), so a spin can stop as soon
// as another process wants the cores. The file stays open and is read with pread at offset 0,
// which regenerates it: one syscall per read. The cores are this process's affinity mask
// (taskset, a cgroup's cpuset), not every core of the machine. Differs from posix/, which has
// only the one-minute average.
#include "fastmd/platform/cpu_load.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace fastmd::platform {

CpuLoadReader::CpuLoadReader() : source_(::open("/proc/loadavg", O_RDONLY | O_CLOEXEC)) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    cores_ = static_cast<unsigned>(CPU_COUNT(&allowed));
  }
  if (cores_ == 0) cores_ = static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
}

std::optional<CpuLoad> CpuLoadReader::read() const {
  if (!source_) return std::nullopt;
  // "0.52 0.58 0.59 3/1283 7215\n": the fourth field's numerator.
  char text[128];
  const ssize_t got = ::pread(source_.get(), text, sizeof text - 1, 0);
  if (got <= 0) return std::nullopt;
  const char* end = text + got;
  const char* field = text;
  for (int spaces = 0; spaces < 3; ++spaces) {
    field =
        static_cast<const char*>(std::memchr(field, ' ', static_cast<std::size_t>(end - field)));
    if (field == nullptr) return std::nullopt;
    ++field;
  }
  unsigned runnable = 0;
  const auto parsed = std::from_chars(field, end, runnable);
  if (parsed.ec != std::errc() || parsed.ptr == end || *parsed.ptr != '/') return std::nullopt;
  return CpuLoad{.runnable = runnable, .cores = cores_};
}

}  // namespace fastmd::platform
