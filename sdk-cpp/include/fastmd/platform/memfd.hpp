// fastmd/platform/memfd.hpp — shareable memory objects: anonymous ones (a sealed memfd on
// Linux; under FASTMD_PLATFORM=posix an shm_open object unlinked at once, which cannot be
// sealed), named POSIX shm objects (the daemon's `shm` backing), and the checks a receiver
// runs on a memory fd it was given before it maps it (PROTOCOL.md §4, docs/platforms.md).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// Seal bits, with Linux's F_SEAL_* values (the Linux implementation checks that they match),
/// named here so callers compile where <fcntl.h> has no seals.
inline constexpr unsigned kSealSeal = 0x0001;    // F_SEAL_SEAL: no more seals may be added
inline constexpr unsigned kSealShrink = 0x0002;  // F_SEAL_SHRINK
inline constexpr unsigned kSealGrow = 0x0004;    // F_SEAL_GROW
inline constexpr unsigned kSealWrite = 0x0008;   // F_SEAL_WRITE

/// Seals of a pool segment: its size can never change, so no peer can truncate it under
/// another's mapping (which would SIGBUS the other).
inline constexpr unsigned kSegmentSeals = kSealShrink | kSealGrow;
/// Seals of a one-off payload: additionally immutable, so the receiver reads what was sent.
inline constexpr unsigned kOneOffSeals = kSealShrink | kSealGrow | kSealWrite;

/// Creates an anonymous, close-on-exec memory object of `size` bytes, unsealed: a memfd
/// (MFD_ALLOW_SEALING) on Linux, where `name` shows in /proc/<pid>/fd as "memfd:<name>" (for
/// debugging only); under POSIX an shm_open object with a random name, created O_EXCL and
/// unlinked before this returns, so only fds keep it alive.
proto::Result<UniqueFd> create_memfd(const char* name, std::uint64_t size);

/// Adds `seals` (F_ADD_SEALS). Fails with IO_ERROR (e.g. EBUSY for F_SEAL_WRITE while a
/// writable shared mapping exists, or ENOTSUP where capabilities().sealing is false).
proto::Status add_seals(int fd, unsigned seals);

/// Seals `fd` with `seals` where the platform can: true once sealed, false where
/// capabilities().sealing is false (the object stays unsealed; receivers check sizes instead).
proto::Result<bool> seal_where_supported(int fd, unsigned seals);

/// The seals on `fd` (F_GET_SEALS), or IO_ERROR when the file (or platform) has no seals.
proto::Result<unsigned> get_seals(int fd);

/// Creates the named POSIX shm object `name` ("/fastmd-...") with O_CREAT|O_EXCL, mode 0600,
/// sized to `size` bytes. Fails with IO_ERROR if it exists.
proto::Result<UniqueFd> create_shm_object(const std::string& name, std::uint64_t size);

/// Removes the named shm object (shm_unlink). Missing is not an error.
proto::Status unlink_shm_object(const std::string& name);

/// True when `fd` is a named POSIX shm object (on Linux its path is under /dev/shm), which,
/// unlike a memfd, cannot carry seals. Always true where capabilities().sealing is false.
bool is_named_shm_object(int fd);

/// What a memory fd turned out to be.
struct MemoryFdInfo {
  std::uint64_t size = 0;
  unsigned seals = 0;
};

/// Checks a received memory fd before it is mapped: a regular file (on Linux on tmpfs: a memfd
/// or a /dev/shm object), carrying at least `required_seals`, and at least `min_size` bytes
/// long. Where the platform cannot seal, `required_seals` cannot be verified and is not asked
/// for (the returned seals are 0): the size check is then all there is, and a reader must
/// bound its reads by it (docs/platforms.md). Anything else is SHM_BAD_FD naming the fault.
proto::Result<MemoryFdInfo> check_memory_fd(int fd, unsigned required_seals,
                                            std::uint64_t min_size);

/// check_memory_fd() of a file a peer keeps writing (a pool segment, a channel's ring): a
/// memfd must carry `required_seals`; a named /dev/shm object (what a posix-layer peer
/// sends) cannot carry seals and is accepted for its size alone (readers are SIGBUS-guarded).
proto::Result<MemoryFdInfo> check_shared_memory_fd(int fd, unsigned required_seals,
                                                   std::uint64_t min_size);

}  // namespace fastmd::platform
