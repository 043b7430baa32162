// proc_stat.hpp — one field of /proc/<pid>/stat, read past the parenthesised command name
// (which may hold spaces and parentheses): the parent pid for the per-user daemon's "own
// workers", the start time for the rollout's per-process bucket.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace fastmd::ipc::detail {

/// Field `field` (numbered as in proc(5): 4 is the parent pid, 22 the start time) of process
/// `pid`'s stat line (0: this process), or 0 when the process is gone or the field unreadable.
std::uint64_t proc_stat_field(pid_t pid, int field);

}  // namespace fastmd::ipc::detail
