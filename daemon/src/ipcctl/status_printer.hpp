// status_printer.hpp — renders the daemon's ipc.status map (PROTOCOL.md §3.4) for people (a
// table of sessions, then counters, limits and pools) or for machines (JSON).
#pragma once

#include <ostream>

#include <msgpack.hpp>

namespace fastmd::ipcctl {

/// Writes `status` as JSON (pretty-printed, one document).
void print_json(std::ostream& out, const msgpack::object& status);

/// Writes `status` as a human-readable report.
void print_text(std::ostream& out, const msgpack::object& status);

}  // namespace fastmd::ipcctl
