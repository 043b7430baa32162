// locate_daemon.hpp — the addon's locateDaemon(options): Node's `auto` and `fast` choice
// through the C++ SDK's one implementation (sdk-cpp/src/ipc/daemon_locator.hpp), off the
// event loop (starting a per-user daemon waits for its socket).
#pragma once

#include <napi.h>

namespace fastmd::node {

/// locateDaemon({socket?, callerDirs?, rollout?, startTimeoutMs?}) → Promise of
/// {transport: 'fast'|'legacy', socketPath, source, reason}; rejects with an Error whose
/// `code` is 'FASTMD_<NAME>' and `errno` the PROTOCOL.md §6 number.
Napi::Value locate_daemon(const Napi::CallbackInfo& info);

}  // namespace fastmd::node
