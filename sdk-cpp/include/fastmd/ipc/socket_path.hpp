// fastmd/ipc/socket_path.hpp — where the daemon's socket is. One rule, shared by the daemon
// (where to listen), Client and Worker (where to connect), so all three always agree.
#pragma once

#include <string>
#include <string_view>

namespace fastmd::ipc {

/// The environment variable that overrides the default socket path.
inline constexpr std::string_view kSocketEnv = "FASTMD_IPC_SOCKET";

/// The socket path when nothing is configured: `$XDG_RUNTIME_DIR/fastmd/ipcd.sock` when
/// XDG_RUNTIME_DIR is set, else `/run/fastmd/ipcd.sock` for root, else
/// `/tmp/fastmd-<uid>/ipcd.sock`.
std::string default_socket_path();

/// The socket path to use: `configured` when not empty, else $FASTMD_IPC_SOCKET when set and
/// not empty, else default_socket_path().
///
///     auto path = fastmd::ipc::resolve_socket_path(options.socket_path);
std::string resolve_socket_path(std::string_view configured = {});

}  // namespace fastmd::ipc
