// Portable process facts: POSIX has no call for one's own start time or executable, so each
// answers "unknown" and its callers fall back (process_info.hpp). Differs from linux/, which
// reads /proc, and from bsd/, which asks sysctl (and proc_pidpath on macOS).
#include "fastmd/platform/process_info.hpp"

namespace fastmd::platform {

std::uint64_t own_start_time() {
  return 0;
}

std::string own_executable_path() {
  return {};
}

}  // namespace fastmd::platform
