// platform/sigbus_guard.hpp — the SIGBUS guard over shared mappings, as libwayland guards
// wl_shm pools (wayland-shm.c, sigbus_handler). A memory object that nobody could seal (every
// object of the posix platform, named shm objects on Linux) can be truncated by any peer
// holding its fd, and touching a page past the new end raises SIGBUS. One process-wide
// handler, installed with the first guarded mapping, looks the faulting address up in a
// registry of guarded ranges; inside one, it maps private zero pages over the whole range
// (MAP_FIXED) and marks it broken, so the faulting access completes with zeros and the owner
// of the Mapping, asking broken(), reports SHM_BAD_FD instead of using what it read. A fault
// outside every range goes to the handler that was installed before (or kills the process as
// SIGBUS always did). Internal to the platform layer: Mapping is its only user.
#pragma once

#include <cstddef>

namespace fastmd::platform::sigbus_guard {

/// One registered range. Its storage is never freed (a slot is reused), so a pointer to it
/// stays valid for the process's lifetime and the handler can read it without locks.
struct Range;

/// Registers [begin, begin + size) and installs the handler if it is not yet. Never fails:
/// the registry grows in blocks that are kept for the process's lifetime.
Range* guard(std::byte* begin, std::size_t size);

/// Takes the range out of the registry; call before the range is unmapped.
void release(Range* range);

/// True once a fault inside the range replaced it with zero pages.
bool broken(const Range* range);

}  // namespace fastmd::platform::sigbus_guard
