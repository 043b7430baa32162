// fastmd/ipc/worker_main.hpp — fastmd::ipc::run_worker_main(), the whole main() of a worker
// program: it parses the command line, then serves a MethodTable on the fast path (a Worker
// connected to fastmd-ipcd) or, with --stdio, as the NDJSON legacy server on stdin/stdout
// (what the Node SDK's fallback spawns). One main, both modes; nobody writes that loop again.
//
// Options it gives every worker (see `--help`):
//   --stdio                 serve NDJSON on stdin/stdout instead of the daemon
//   --socket PATH           the daemon's socket (default: $FASTMD_IPC_SOCKET, then the default)
//   --name NAME             a label for the daemon's logs and status (default: the program name)
//   --concurrency N         handler threads: calls run at once (1 .. 1024, default 1)
//   --spin-us N             fast path: poll channels up to this long before sleeping (0:
//                           never; default: adaptive, WorkerOptions::spin_budget)
//   --ring-kib N            fast path: KiB of this worker's ring per client (0: socket frames)
//   --wait-for-daemon[=S]   no daemon yet: retry with backoff for S seconds (no value: until
//                           it comes; 0: fail at once). Default: wait under systemd
//                           (INVOCATION_ID set), else fail at once with DAEMON_UNREACHABLE
//   --max-line BYTES        --stdio: the longest input line (default 1 GiB)
//   -h, --help / --version
#pragma once

#include <functional>
#include <string>

#include "fastmd/ipc/handler.hpp"

namespace fastmd::ipc {

/// What run_worker_main() needs to know about the program.
struct WorkerProgram {
  /// The program's name: in --help, --version, log lines, and the default --name.
  std::string name;
  /// Printed by --version after the name, e.g. "1.2.0".
  std::string version;
  /// One line for --help (and the man page) saying what the worker does.
  std::string description;
  /// Text after the options in --help, e.g. the methods served; may be empty.
  std::string footer;
  /// Makes the methods to serve, once the command line is parsed; `concurrency` is the
  /// --concurrency value, to give each method (MethodTable::add's third argument).
  std::function<MethodTable(unsigned concurrency)> methods;
};

/// Runs the worker described by `program` with the command line `argc`/`argv` and returns
/// main()'s exit code: 0 when it served until stopped (SIGTERM/SIGINT on the fast path, the
/// end of stdin with --stdio), 1 when serving failed (the error is logged on stderr), CLI11's
/// code (non-zero) for a bad command line. Logs go to stderr: with --stdio, stdout carries
/// the NDJSON responses only.
///
///     int main(int argc, char** argv) {
///       return fastmd::ipc::run_worker_main(argc, argv, {
///           .name = "upper-worker", .version = "1.0", .description = "upper-cases text",
///           .methods = [](unsigned concurrency) {
///             fastmd::ipc::MethodTable methods;
///             methods.add("upper", [](fastmd::ipc::ByteView in, fastmd::ipc::ResultWriter& out) {
///               std::string text(fastmd::proto::as_chars(in));
///               for (char& c : text) c = static_cast<char>(std::toupper(c));
///               out.append(text);
///             }, concurrency);
///             return methods;
///           }});
///     }
int run_worker_main(int argc, char** argv, const WorkerProgram& program);

}  // namespace fastmd::ipc
