// status_printer.hpp — renders the daemon's ipc.status map (PROTOCOL.md §3.4) for people (a
// table of sessions, then counters, limits, shared-memory pools and worker pools) or for
// machines (JSON); `fastmd-ipcctl pools` shows the worker pools alone.
#pragma once

#include <ostream>

#include <msgpack.hpp>

namespace fastmd::ipcctl {

/// Writes `status` as JSON (pretty-printed, one document).
void print_json(std::ostream& out, const msgpack::object& status);

/// Writes `status` as a human-readable report.
void print_text(std::ostream& out, const msgpack::object& status);

/// Writes the report's `worker_pools` for people: each pool (state, workers wanted and
/// bounds, restarts, last unexpected exit, methods), then its workers (pid, state, session,
/// uptime, and the load fields the daemon reports).
void print_worker_pools(std::ostream& out, const msgpack::object& status);

/// Writes the report's `worker_pools` array as JSON.
void print_worker_pools_json(std::ostream& out, const msgpack::object& status);

}  // namespace fastmd::ipcctl
