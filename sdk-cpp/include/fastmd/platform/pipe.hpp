// fastmd/platform/pipe.hpp — a pipe whose two ends are close-on-exec: a spawned worker's
// output (dup2 into the child keeps only what it is given) and the portable wake-up. Linux
// makes it atomically (pipe2(O_CLOEXEC)); portable POSIX sets FD_CLOEXEC right after pipe()
// (macOS has no pipe2; docs/platforms.md).
#pragma once

#include <utility>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// {read end, write end}, both blocking and close-on-exec; IO_ERROR naming the call when the
/// process is out of fds.
///
///     auto [read_end, write_end] = fastmd::platform::make_pipe().value();
proto::Result<std::pair<UniqueFd, UniqueFd>> make_pipe();

}  // namespace fastmd::platform
