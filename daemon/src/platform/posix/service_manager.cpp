// The service manager notify protocol spoken without libsystemd: a datagram to the AF_UNIX
// path in $NOTIFY_SOCKET, and keep-alives at half of $WATCHDOG_USEC (sd_notify(3) documents
// both as stable). Differs from linux/ in using only portable socket calls: no abstract
// socket names (a NOTIFY_SOCKET starting with '@' is ignored) and no socket activation, so the
// daemon always binds its own socket. launchd (macOS) and rc.d (FreeBSD) set no NOTIFY_SOCKET,
// so there every call does nothing.
#include "platform/service_manager.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

bool service_manager_passed_sockets() {
  return false;
}

proto::Result<UniqueFd> take_activated_socket() {
  return system_error("socket activation (no service manager passes sockets here)", ENOTSUP);
}

void notify_service_manager(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0' || path[0] == '@') return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  if (length >= sizeof(address.sun_path)) return;
  std::memcpy(address.sun_path, path, length + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM, 0));
  if (!fd || ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) return;
  // Best effort, as sd_notify: a service manager that does not listen changes nothing here.
  (void)::sendto(fd.get(), state.data(), state.size(), 0,
                 reinterpret_cast<const sockaddr*>(&address), sizeof(address));
}

std::chrono::microseconds watchdog_keepalive_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::chrono::microseconds(0);
  // WATCHDOG_PID, when set, names the process meant (not a child that inherited it).
  if (const char* pid = std::getenv("WATCHDOG_PID");
      pid != nullptr && std::strtoll(pid, nullptr, 10) != ::getpid()) {
    return std::chrono::microseconds(0);
  }
  char* end = nullptr;
  const unsigned long long value = std::strtoull(usec, &end, 10);
  if (end == usec || *end != '\0' || value == 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(value / 2);
}

}  // namespace fastmd::platform
