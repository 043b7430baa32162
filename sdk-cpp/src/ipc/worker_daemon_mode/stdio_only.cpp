// worker_daemon_mode/stdio_only.cpp — a worker program's fast path in a build that has none
// (FASTMD_PLATFORM=windows: no daemon, shared memory or fd passing; docs/platforms.md): it
// refuses with the reason, so the program fails at once instead of waiting for a daemon that
// cannot exist. Such a worker serves with --stdio, which is how the Node SDK starts it there.
#include "../worker_daemon_mode.hpp"

namespace fastmd::ipc::detail {

proto::Status serve_through_daemon(MethodTable, const DaemonModeOptions&) {
  return proto::Error{proto::Errc::daemon_unreachable,
                      "this build of fastmd-ipc has no fast path (FASTMD_PLATFORM=windows): "
                      "there is no daemon to serve through; run the worker with --stdio"};
}

}  // namespace fastmd::ipc::detail
