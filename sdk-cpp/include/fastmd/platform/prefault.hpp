// fastmd/platform/prefault.hpp — bringing memory in before it is used, so no session pays a
// page fault on the hot path: backing a fresh memory object's pages without mapping it
// (Linux fallocate; POSIX a pwrite per page), populating a mapping in one call (Linux
// MADV_POPULATE_*; POSIX none) and transparent huge pages (Linux only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "fastmd/platform/mapping.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// Allocates every page of the memory object `fd` (`size` bytes, already sized) without a
/// mapping, so a peer truncating it meanwhile cannot SIGBUS the caller. The contents stay zero.
proto::Status allocate_pages(int fd, std::uint64_t size);

/// How a mapping's pages are populated.
enum class PopulateFor : bool { read, write };

/// Faults every page of `memory` in, in one call: a mapping's bytes, or page-aligned memory of
/// the caller's own (e.g. from aligned_alloc). Returns false when nothing was done (an old
/// kernel, or a platform without the call): the pages then come in on first touch.
bool populate(std::span<std::byte> memory, PopulateFor access);

/// Asks for transparent huge pages over `memory` (a mapping's bytes, or page-aligned memory of
/// the caller's own, e.g. from aligned_alloc); IO_ERROR where the platform has none.
proto::Status advise_huge_pages(std::span<std::byte> memory);

}  // namespace fastmd::platform
