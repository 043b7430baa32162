// fastmd/platform/memfd.hpp — memory file descriptors: sealed memfds (pool segments and
// one-off payloads), named POSIX shm objects (the portable backing), and the checks a
// receiver runs on a memory fd it was given before it maps it (PROTOCOL.md §4).
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// Seals of a pool segment: its size can never change, so no peer can truncate it under
/// another's mapping (which would SIGBUS the other).
inline constexpr unsigned kSegmentSeals = F_SEAL_SHRINK | F_SEAL_GROW;
/// Seals of a one-off payload: additionally immutable, so the receiver reads what was sent.
inline constexpr unsigned kOneOffSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

/// Creates a memfd of `size` bytes (MFD_CLOEXEC | MFD_ALLOW_SEALING, unsealed). `name` shows
/// in /proc/<pid>/fd as "memfd:<name>" and is for debugging only.
proto::Result<UniqueFd> create_memfd(const char* name, std::uint64_t size);

/// Adds `seals` (F_ADD_SEALS). Fails with IO_ERROR (e.g. EBUSY for F_SEAL_WRITE while a
/// writable shared mapping exists).
proto::Status add_seals(int fd, unsigned seals);

/// The seals on `fd` (F_GET_SEALS), or IO_ERROR when the file does not support sealing.
proto::Result<unsigned> get_seals(int fd);

/// Creates the named POSIX shm object `name` ("/fastmd-...") with O_CREAT|O_EXCL, mode 0600,
/// sized to `size` bytes. Fails with IO_ERROR if it exists.
proto::Result<UniqueFd> create_shm_object(const std::string& name, std::uint64_t size);

/// Removes the named shm object (shm_unlink). Missing is not an error.
proto::Status unlink_shm_object(const std::string& name);

/// True when `fd` is a named POSIX shm object (its path is under /dev/shm), which, unlike a
/// memfd, cannot carry seals.
bool is_named_shm_object(int fd);

/// What a memory fd turned out to be.
struct MemoryFdInfo {
  std::uint64_t size = 0;
  unsigned seals = 0;
};

/// Checks a received memory fd before it is mapped: a regular file on tmpfs (a memfd or a
/// /dev/shm object), carrying at least `required_seals`, and at least `min_size` bytes long.
/// Anything else is SHM_BAD_FD with a message naming what is wrong.
proto::Result<MemoryFdInfo> check_memory_fd(int fd, unsigned required_seals,
                                            std::uint64_t min_size);

}  // namespace fastmd::platform
