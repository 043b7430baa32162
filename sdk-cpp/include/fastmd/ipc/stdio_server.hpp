// fastmd/ipc/stdio_server.hpp — fastmd::ipc::StdioServer, the legacy path: it serves a
// MethodTable as NDJSON over stdin/stdout (proto/PROTOCOL.md §8), running the very handlers
// the fast-path Worker runs. Requests are pipelined: lines are read in large chunks, run on a
// pool of handler threads (each method within its concurrency), and answered as they finish,
// with the responses of a burst written together. On end of input it answers everything in
// flight and returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "fastmd/ipc/handler.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::ipc {

struct StdioServerOptions {
  /// Where requests are read from and responses written to: standard input and output (fds 0
  /// and 1, on POSIX and in Windows' C runtime alike). A program prepares them first with
  /// fastmd::platform::prepare_stdio_streams(), as run_worker_main() does.
  int input_fd = 0;
  int output_fd = 1;
  /// Handler threads: how many calls run at once (each method also within its concurrency).
  unsigned threads = 1;
  /// A longer line is FRAME_TOO_LARGE and ends the session (PROTOCOL.md §8: 1 GiB).
  std::size_t max_line = std::size_t{1} << 30;
  /// Requests read but not yet answered; beyond this, reading pauses (backpressure).
  std::size_t max_in_flight = 4096;
};

class StdioServer {
 public:
  /// A server for `methods` (at least one).
  ///
  ///     fastmd::ipc::MethodTable methods;
  ///     methods.add("echo", [](fastmd::proto::ByteView in, fastmd::ipc::ResultWriter& out) {
  ///       out.append(in);
  ///     });
  ///     fastmd::ipc::StdioServer server(std::move(methods), {.threads = 2});
  ///     auto served = server.run();   // until stdin ends
  explicit StdioServer(MethodTable methods, StdioServerOptions options = {});
  ~StdioServer();
  StdioServer(const StdioServer&) = delete;
  StdioServer& operator=(const StdioServer&) = delete;

  /// Serves until the input ends, then answers every request in flight and returns OK.
  /// Fails, after answering what is in flight, with FRAME_TOO_LARGE (a line over max_line),
  /// the decode error of a line that is not a request it can answer (MALFORMED, NOT_A_MAP,
  /// ...), VERSION_MISMATCH, or IO_ERROR (reading or writing failed, e.g. the reader went away).
  /// Call once.
  proto::Status run();

  /// Requests answered so far (results and errors alike).
  std::uint64_t answered() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastmd::ipc
