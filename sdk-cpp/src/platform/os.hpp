// platform/os.hpp — the internal seam between the portable platform code in this directory
// and the one implementation directory CMake's FASTMD_PLATFORM picks (linux/ or posix/, with
// macos/ or freebsd/ files replacing posix/ files of the same name). Not a public header:
// everything here is declared once and defined once per implementation.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform::os {

/// A new AF_UNIX SOCK_STREAM socket, CLOEXEC, and O_NONBLOCK when `nonblocking`.
proto::Result<UniqueFd> open_unix_socket(bool nonblocking);

/// recvmsg(2) that leaves every SCM_RIGHTS fd it received CLOEXEC. Returns what recvmsg
/// returns, errno set as it sets it.
ssize_t receive_message(int socket, msghdr* message);

/// sendmsg(2) that never raises SIGPIPE: a closed peer is EPIPE. Returns what sendmsg returns,
/// errno set as it sets it.
ssize_t send_message(int socket, const msghdr* message);

/// The mmap flag that populates a mapping as it is made (MAP_POPULATE), or 0 where none.
int map_populate_flag();

// ---- shared by the implementations (defined in ../memory_object.cpp) ----

/// ftruncate to `size`, refusing sizes off_t cannot hold.
proto::Status set_size(int fd, std::uint64_t size);

/// SHM_BAD_FD with `message`.
proto::Error bad_memory_fd(std::string message);

/// "F_SEAL_SHRINK|F_SEAL_GROW", or "none".
std::string seal_names(unsigned seals);

/// The size and seal checks of check_memory_fd() once the platform knows the fd is a memory
/// file of `size` bytes carrying `seals` (`can_seal` false: seals cannot be verified here).
proto::Result<MemoryFdInfo> check_seals_and_size(std::uint64_t size, unsigned seals, bool can_seal,
                                                 unsigned required_seals, std::uint64_t min_size);

}  // namespace fastmd::platform::os
