// Reading /proc/<pid>/stat (see proc_stat.hpp).
#include "proc_stat.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace fastmd::ipc::detail {

std::uint64_t proc_stat_field(pid_t pid, int field) {
  std::ifstream stat(pid == 0 ? std::string("/proc/self/stat")
                              : "/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const std::size_t end_of_command = line.rfind(')');
  if (end_of_command == std::string::npos || field < 3) return 0;
  // After ") " come fields 3 (the state), 4, ...
  std::istringstream fields(line.substr(end_of_command + 2));
  std::string skipped;
  for (int i = 3; i < field && fields >> skipped; ++i) {
  }
  std::uint64_t value = 0;
  fields >> value;
  return value;
}

}  // namespace fastmd::ipc::detail
