// worker_daemon_mode/fast_path.cpp — a worker program's fast path: a Worker connected to
// fastmd-ipcd, stopped by SIGTERM or SIGINT (the service manager's stop, or Ctrl-C). In a
// directory of its own, beside its Windows counterpart, so the Node addon (which compiles the
// files directly in src/ipc/, sdk-node/scripts/native-sources.js) takes neither.
#include "../worker_daemon_mode.hpp"

#include <atomic>
#include <csignal>

#include "fastmd/ipc/worker.hpp"

namespace fastmd::ipc::detail {

namespace {

// The worker a SIGTERM/SIGINT stops; request_stop() only sets a flag and wakes the loop.
std::atomic<Worker*> running_worker{nullptr};

void stop_on_signal(int) {
  if (Worker* worker = running_worker.load()) worker->request_stop();
}

}  // namespace

proto::Status serve_through_daemon(MethodTable methods, const DaemonModeOptions& options) {
  Worker worker(std::move(methods), {.socket_path = options.socket_path,
                                     .name = options.name,
                                     .threads = options.threads,
                                     .spin_budget = options.spin_budget,
                                     .ring_bytes = options.ring_bytes,
                                     .wait_for_daemon = options.wait_for_daemon});
  running_worker.store(&worker);
  std::signal(SIGTERM, stop_on_signal);
  std::signal(SIGINT, stop_on_signal);
  proto::Status served = worker.run();
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  running_worker.store(nullptr);
  return served;
}

}  // namespace fastmd::ipc::detail
