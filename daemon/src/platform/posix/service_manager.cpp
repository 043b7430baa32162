// No service manager to notify or to take sockets from: launchd (macOS) considers a job
// running once it is started and watches it by its process, rc.d (FreeBSD) by its pid file.
// Differs from linux/, which speaks systemd's notify protocol and takes activated sockets;
// here the daemon always binds its own socket, and readiness and watchdog have no listener.
#include "platform/service_manager.hpp"

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

bool service_manager_passed_sockets() {
  return false;
}

proto::Result<UniqueFd> take_activated_socket() {
  return system_error("socket activation (no service manager passes sockets here)", ENOTSUP);
}

void notify_service_manager(const std::string&) {}

std::chrono::microseconds watchdog_keepalive_interval() {
  return std::chrono::microseconds(0);
}

}  // namespace fastmd::platform
