// fastmd/ipc/worker.hpp — fastmd::ipc::Worker, the serving side of the fast path. It
// connects to fastmd-ipcd, announces the methods of its MethodTable, and serves the
// requests of every client the daemon introduces, on a pool of handler threads. Payloads
// arrive as views into the client's shared memory (zero copy) or as inline bytes; results
// are written once, into the worker's own segment when large. A handler that throws answers
// its call with an error; the worker goes on. After a daemon restart the worker reconnects
// with backoff, registers again, and keeps serving the channels it already has.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/ipc/handler.hpp"
#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/result.hpp"
#include "fastmd/shm/segment_writer.hpp"

namespace fastmd::ipc {

struct WorkerOptions {
  /// The daemon's socket; empty: resolve_socket_path() (FASTMD_IPC_SOCKET, then the default).
  std::string socket_path;
  /// A label for the daemon's logs and status.
  std::string name = "cpp-worker";
  /// Handler threads: how many calls run at once. The worker runs one thread more, so the
  /// channels are read while every handler is busy; the threads take turns reading, and the
  /// one that reads a request runs it (no hand-off between threads).
  unsigned threads = 1;
  /// How long the thread reading the channels polls them before it sleeps (each wake-up
  /// costs tens of µs). nullopt (default): adaptive — spin only while a core is free, and
  /// only about as long as recent requests took to come, at most policy::kSpinLearnedMax
  /// (docs/sdk-cpp.md, "Spinning"); 0: never spin; another value: spin up to that long every
  /// wait.
  std::optional<std::chrono::microseconds> spin_budget;
  /// Bytes of the shared-memory ring this worker writes its small answers into, on each
  /// channel to a client that offers rings too (PROTOCOL.md §5.5): a power of two from 4 KiB
  /// to 64 MiB. 0: socket frames only.
  std::uint32_t ring_bytes = policy::kRingBytes;
  /// Results up to this many bytes travel inline; larger ones in the worker's segment.
  std::size_t inline_threshold = proto::kDefaultInlineThreshold;
  /// How long a result waits for room in the segment before it goes by one-off memfd.
  std::chrono::milliseconds shm_wait{policy::kShmWait};
  /// Bound of the handshake with the daemon.
  std::chrono::milliseconds connect_timeout{policy::kHandshakeTimeout};
  /// Longest pause between reconnection attempts after the daemon went away.
  std::chrono::milliseconds reconnect_max{policy::kReconnectMax};
  /// How long start() waits for a daemon that is not up yet (no socket, or one that refuses
  /// connections or is draining), retrying with the reconnection backoff (doubling up to
  /// reconnect_max) and logging once that it waits, before it fails with DAEMON_UNREACHABLE.
  /// 0 (default): fail at once. milliseconds::max(): wait until the daemon comes or
  /// request_stop() (then run() returns success). A daemon that refuses the worker (e.g.
  /// PERMISSION_DENIED) fails it at once either way.
  std::chrono::milliseconds wait_for_daemon{0};
};

class Worker {
 public:
  /// A worker serving `methods` (at least one).
  ///
  ///     fastmd::ipc::MethodTable methods;
  ///     methods.add("echo", [](fastmd::proto::ByteView in, fastmd::ipc::ResultWriter& out) {
  ///       out.append(in);
  ///     });
  ///     fastmd::ipc::Worker worker(std::move(methods), {.threads = 2});
  ///     if (auto served = worker.run(); !served) std::cerr << served.error().to_string();
  Worker(MethodTable methods, WorkerOptions options = {});
  /// Stops serving (see stop()).
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Connects, registers the methods, and starts serving in the background.
  /// DAEMON_UNREACHABLE when no daemon listens (after WorkerOptions::wait_for_daemon); the
  /// daemon's error when it refuses; CANCELLED when request_stop() ended the wait.
  proto::Status start();

  /// start(), then serves until request_stop() (or stop() from another thread).
  proto::Status run();

  /// Asks a running worker to stop; returns at once. Async-signal-safe (for SIGTERM handlers).
  void request_stop();

  /// Stops: finishes the handlers that are running, closes every channel (clients re-send
  /// or fail what was in flight) and disconnects. Idempotent.
  void stop();

  /// Requests answered so far (results and errors alike).
  std::uint64_t answered() const;

  /// The allocation counters of the worker's own segment, where its large results go (see
  /// fastmd/shm/segment_writer.hpp); std::nullopt while it has none (not connected, or the
  /// daemon gave none). `blocks_held` counts results lent to clients and not yet given back,
  /// `taken_back` those that came back because their client's process was gone.
  ///
  ///     if (auto stats = worker.segment_stats()) std::cout << stats->blocks_held << "\n";
  std::optional<shm::WriterStats> segment_stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastmd::ipc
