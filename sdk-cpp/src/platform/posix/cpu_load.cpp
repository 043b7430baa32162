// The portable CPU load: getloadavg(3)'s one-minute average (glibc, macOS, the BSDs), rounded
// up, stands in for the count of runnable threads, so a spin stops only once a busy period has
// lasted long enough to move the average: tens of seconds. The cores are those online.
// Differs from linux/, which reads the scheduler's count at the moment of the call.
#include "fastmd/platform/cpu_load.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace fastmd::platform {

CpuLoadReader::CpuLoadReader()
    : cores_(static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)))) {}

std::optional<CpuLoad> CpuLoadReader::read() const {
  double average = 0;
  if (::getloadavg(&average, 1) != 1 || !(average >= 0)) return std::nullopt;
  return CpuLoad{.runnable = static_cast<unsigned>(std::ceil(average)), .cores = cores_};
}

}  // namespace fastmd::platform
