// inherited_control.hpp — the control connection a daemon hands to a worker it started itself
// (a pool worker, PROTOCOL.md §3.7): an already-connected socket whose fd number is in
// FASTMD_IPC_CONTROL_FD. The worker says ipc.hello on it instead of connecting to a socket
// path, and when it ends the worker exits: its daemon is gone and the next one starts its own.
#pragma once

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

/// The environment variable naming the inherited control socket's fd.
inline constexpr const char* kControlFdVariable = "FASTMD_IPC_CONTROL_FD";

/// Takes the inherited control socket once: the variable is removed from the environment and
/// the fd made close-on-exec (the worker's own children do not inherit it). An invalid fd when
/// the variable is not set; INVALID_FIELD when it does not name an open Unix stream socket.
proto::Result<platform::UniqueFd> take_inherited_control();

}  // namespace fastmd::ipc::detail
