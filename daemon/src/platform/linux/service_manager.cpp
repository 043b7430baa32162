// systemd's notify protocol and socket activation through libsystemd (sd_notify,
// sd_watchdog_enabled, sd_listen_fds). Differs from posix/, where no service manager listens
// for readiness or passes sockets.
#include "platform/service_manager.hpp"

#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cstdint>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

bool service_manager_passed_sockets() {
  return ::sd_listen_fds(0) > 0;
}

proto::Result<UniqueFd> take_activated_socket() {
  const int count = ::sd_listen_fds(1);
  if (count < 0) return system_error("sd_listen_fds", -count);
  if (count != 1) {
    return proto::Error{
        proto::Errc::invalid_field,
        "systemd passed " + std::to_string(count) + " sockets; fastmd-ipcd listens on exactly one"};
  }
  const int fd = SD_LISTEN_FDS_START;
  if (::sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
    return proto::Error{proto::Errc::invalid_field,
                        "the socket systemd passed is not a listening AF_UNIX stream socket"};
  }
  return UniqueFd(fd);
}

void notify_service_manager(const std::string& state) {
  // unset_environment = 0: a reload must still find NOTIFY_SOCKET.
  (void)::sd_notify(0, state.c_str());
}

std::chrono::microseconds watchdog_keepalive_interval() {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    return std::chrono::microseconds(usec / 2);
  }
  return std::chrono::microseconds(0);
}

}  // namespace fastmd::platform
