// The socket path rule (see fastmd/ipc/socket_path.hpp).
#include "fastmd/ipc/socket_path.hpp"

#include <unistd.h>

#include <cstdlib>

namespace fastmd::ipc {

namespace {

std::string_view environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string_view{value} : std::string_view{};
}

}  // namespace

std::string default_socket_path() {
  if (auto runtime = environment("XDG_RUNTIME_DIR"); !runtime.empty()) {
    return std::string(runtime) + "/fastmd/ipcd.sock";
  }
  const uid_t uid = ::geteuid();
  if (uid == 0) return "/run/fastmd/ipcd.sock";
  return "/tmp/fastmd-" + std::to_string(uid) + "/ipcd.sock";
}

std::string resolve_socket_path(std::string_view configured) {
  if (!configured.empty()) return std::string(configured);
  if (auto from_env = environment(std::string(kSocketEnv).c_str()); !from_env.empty()) {
    return std::string(from_env);
  }
  return default_socket_path();
}

}  // namespace fastmd::ipc
