// Linux process facts from /proc: the start time is field 22 of /proc/self/stat, read past
// the parenthesised command name (which may hold spaces and parentheses); the executable is the
// /proc/self/exe link. Differs from posix/, which has no /proc and knows neither.
#include "fastmd/platform/process_info.hpp"

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace fastmd::platform {

namespace {

// Field `field` (numbered as in proc(5), from 3) of /proc/self/stat, or nullopt when the line
// is not what proc(5) says.
std::optional<std::uint64_t> own_stat_field(int field) {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  const std::size_t end_of_command = line.rfind(')');
  if (end_of_command == std::string::npos || end_of_command + 2 > line.size()) return std::nullopt;
  // After ") " come fields 3 (the state), 4, ...
  std::istringstream fields(line.substr(end_of_command + 2));
  std::string skipped;
  for (int i = 3; i < field && fields >> skipped; ++i) {
  }
  std::uint64_t value = 0;
  if (!(fields >> value)) return std::nullopt;
  return value;
}

}  // namespace

std::uint64_t own_start_time() {
  return own_stat_field(22).value_or(0);
}

std::string own_executable_path() {
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string{} : exe.string();
}

}  // namespace fastmd::platform
