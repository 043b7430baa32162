// usage.hpp — CPU time and minor page faults of this process and of another one, read before
// and after a series so each row can say what one request cost both sides.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace fastmd::bench {

/// CPU time (user + sys) and minor faults at one moment.
struct Usage {
  double cpu_us = 0;
  double minflt = 0;

  Usage operator-(const Usage& earlier) const {
    return {cpu_us - earlier.cpu_us, minflt - earlier.minflt};
  }
};

/// This process, from getrusage(RUSAGE_SELF).
inline Usage self_usage() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const auto us = [](const timeval& t) { return double(t.tv_sec) * 1e6 + double(t.tv_usec); };
  return {us(ru.ru_utime) + us(ru.ru_stime), double(ru.ru_minflt)};
}

/// A running process, from /proc/<pid>/stat (fields 10 minflt, 14 utime, 15 stime in clock
/// ticks): getrusage() cannot see a child that is still running. Zero when it is gone.
inline Usage process_usage(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; the fields after it follow its ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  Usage usage;
  double utime = 0, stime = 0;
  for (int index = 3; rest >> field && index <= 15; ++index) {
    if (index == 10) usage.minflt = std::stod(field);
    if (index == 14) utime = std::stod(field);
    if (index == 15) stime = std::stod(field);
  }
  usage.cpu_us = (utime + stime) * 1e6 / double(::sysconf(_SC_CLK_TCK));
  return usage;
}

/// Resident set size of a running process in KiB (VmRSS of /proc/<pid>/status); 0 when gone.
inline double rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace fastmd::bench
