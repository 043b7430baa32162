// worker_process.hpp — one worker process of a pool, owned by the daemon: spawned with only
// the fds it is meant to have (stdin /dev/null, stdout and stderr into the daemon's log, its
// already-connected control socket as FASTMD_IPC_CONTROL_FD), watched through its exit
// watcher (a pidfd; SIGCHLD where the platform has none, docs/platforms.md), and reaped. Destroying
// a WorkerProcess that still runs kills (SIGKILL) and reaps it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"
#include "pools/log_pipe.hpp"

namespace fastmd::daemon {

/// The fd number the control socket has in a worker (after stdin, stdout and stderr).
inline constexpr int kWorkerControlFd = 3;

class WorkerProcess {
 public:
  /// Called once, with the pid and wait status, after the process exited and was reaped.
  using ExitHandler = std::function<void(pid_t pid, int wait_status)>;

  /// Spawns `argv` with `control` (the worker's end of its control socketpair) as fd 3, and
  /// FASTMD_IPC_CONTROL_FD=3 and FASTMD_IPC_POOL=<pool> added to the daemon's environment.
  static proto::Result<std::unique_ptr<WorkerProcess>> spawn(asio::io_context& io,
                                                             const std::vector<std::string>& argv,
                                                             const std::string& pool,
                                                             platform::UniqueFd control,
                                                             ExitHandler on_exit);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return !exit_status_; }
  /// The wait status once exited.
  std::optional<int> exit_status() const { return exit_status_; }
  /// Sends `signal` while the process runs (never to a reaped pid).
  void signal(int signal) const;

 private:
  WorkerProcess(asio::io_context& io, pid_t pid, platform::UniqueFd watcher,
                std::unique_ptr<asio::signal_set> child_exits, ExitHandler on_exit);
  void watch_exit();
  void stop_watching();
  void reap();

  pid_t pid_;
  asio::posix::stream_descriptor watcher_;         // the exit watcher, when the platform has one
  std::unique_ptr<asio::signal_set> child_exits_;  // else SIGCHLD, registered before the spawn
  ExitHandler on_exit_;
  std::optional<int> exit_status_;
  std::unique_ptr<LogPipe> stdout_;
  std::unique_ptr<LogPipe> stderr_;
};

/// "exit status 1", "killed by signal 9 (Killed)": a wait status for log lines and status.
std::string describe_wait_status(int wait_status);

}  // namespace fastmd::daemon
