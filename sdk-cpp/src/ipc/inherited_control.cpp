// The control socket a daemon hands to the worker it started (see inherited_control.hpp).
#include "inherited_control.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

proto::Result<platform::UniqueFd> take_inherited_control() {
  const char* value = std::getenv(kControlFdVariable);
  if (value == nullptr) return platform::UniqueFd{};
  const std::string text(value);
  ::unsetenv(kControlFdVariable);
  int fd = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), fd);
  const auto invalid = [&](std::string_view why) {
    return Error{Errc::invalid_field, std::string(kControlFdVariable) + "=" + text + ": " +
                                          std::string(why) +
                                          " (a daemon that starts this worker passes its "
                                          "connected control socket there)"};
  };
  if (error != std::errc{} || end != text.data() + text.size() || fd < 0) {
    return invalid("not an fd number");
  }
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0) return invalid("no such open fd");
  int type = 0;
  socklen_t type_size = sizeof(type);
  sockaddr_storage address{};
  socklen_t address_size = sizeof(address);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_size) != 0 || type != SOCK_STREAM ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_size) != 0 ||
      address.ss_family != AF_UNIX) {
    return invalid("not a Unix stream socket");
  }
  ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  return platform::UniqueFd(fd);
}

}  // namespace fastmd::ipc::detail
