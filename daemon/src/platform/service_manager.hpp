// platform/service_manager.hpp — the daemon's line to a service manager: readiness, status,
// watchdog keep-alives and socket activation. libsystemd on Linux; under FASTMD_PLATFORM=posix
// the notify datagram spoken with portable calls and no socket activation, which is a no-op
// under launchd (macOS) and rc.d (FreeBSD), as they set no NOTIFY_SOCKET (docs/platforms.md).
// Daemon-only, so the SDKs never link libsystemd.
#pragma once

#include <chrono>
#include <string>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// True when the service manager passed listening sockets (socket activation); never under
/// posix (launchd's launch_activate_socket is not used, docs/platforms.md).
bool service_manager_passed_sockets();

/// Takes the one listening AF_UNIX stream socket the service manager passed; INVALID_FIELD
/// when it passed another number of sockets or another kind. Call only when
/// service_manager_passed_sockets().
proto::Result<UniqueFd> take_activated_socket();

/// Sends `state` ("READY=1\nSTATUS=...", "WATCHDOG=1", ...) to the service manager that
/// started this process; does nothing when none listens (no NOTIFY_SOCKET) or on platforms
/// without one.
void notify_service_manager(const std::string& state);

/// How often the service manager wants a keep-alive (half its watchdog timeout), or zero when
/// it watches nothing.
std::chrono::microseconds watchdog_keepalive_interval();

}  // namespace fastmd::platform
