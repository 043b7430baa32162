// A pool's worker process (see worker_process.hpp).
#include "pools/worker_process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/exit_watcher.hpp"
#include "fastmd/platform/pipe.hpp"
#include "platform/spawn_fds.hpp"

extern char** environ;

namespace fastmd::daemon {

using proto::Errc;
using proto::Error;

namespace {

/// posix_spawn's file actions and attributes, destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

/// The daemon's environment without our two variables, plus their values for this worker.
std::vector<std::string> worker_environment(const std::string& pool) {
  std::vector<std::string> out;
  for (char** each = environ; *each != nullptr; ++each) {
    const std::string_view entry(*each);
    if (entry.starts_with("FASTMD_IPC_CONTROL_FD=") || entry.starts_with("FASTMD_IPC_POOL=") ||
        entry.starts_with("NOTIFY_SOCKET=") || entry.starts_with("LISTEN_")) {
      continue;  // systemd's hand-overs are the daemon's, never a worker's
    }
    out.emplace_back(entry);
  }
  out.push_back("FASTMD_IPC_CONTROL_FD=" + std::to_string(kWorkerControlFd));
  out.push_back("FASTMD_IPC_POOL=" + pool);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& each : strings) out.push_back(each.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string describe_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int signo = WTERMSIG(wait_status);
    return "killed by signal " + std::to_string(signo) + " (" + ::strsignal(signo) + ")";
  }
  return "wait status " + std::to_string(wait_status);
}

proto::Result<std::unique_ptr<WorkerProcess>> WorkerProcess::spawn(
    asio::io_context& io, const std::vector<std::string>& argv, const std::string& pool,
    platform::UniqueFd control, ExitHandler on_exit) {
  auto out = platform::make_pipe();
  if (!out) return out.error();
  auto err = platform::make_pipe();
  if (!err) return err.error();

  SpawnSetup setup;
  // The child gets exactly: /dev/null as stdin, the two pipes, the control socket as fd 3.
  // Every other fd of the daemon is closed in the child, CLOEXEC or not (a socket systemd
  // handed over is not).
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out->second.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err->second.get(), 2);
  posix_spawn_file_actions_adddup2(&setup.actions, control.get(), kWorkerControlFd);
  const short close_others =
      platform::close_other_fds_on_spawn(setup.actions, kWorkerControlFd + 1);
  // A worker starts with default signal dispositions and an empty mask, whatever the daemon's.
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&setup.attributes, &all);
  posix_spawnattr_setsigmask(&setup.attributes, &none);
  posix_spawnattr_setflags(
      &setup.attributes,
      static_cast<short>(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | close_others));

  std::vector<std::string> args = argv;
  std::vector<std::string> env = worker_environment(pool);
  std::vector<char*> arg_pointers = pointers(args);
  std::vector<char*> env_pointers = pointers(env);
  // Without an exit watcher, SIGCHLD tells: listened for before the spawn, so an exit right
  // after it is not missed.
  std::unique_ptr<asio::signal_set> child_exits;
  if (!platform::capabilities().exit_watcher) {
    child_exits = std::make_unique<asio::signal_set>(io, SIGCHLD);
  }
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, args.front().c_str(), &setup.actions, &setup.attributes,
                                    arg_pointers.data(), env_pointers.data());
  if (spawned != 0) {
    return Error{Errc::io_error, "cannot start " + args.front() + ": " + std::strerror(spawned)};
  }
  auto watcher = platform::open_exit_watcher(pid);
  if (!watcher || (!watcher->valid() && !child_exits)) {
    ::kill(pid, SIGKILL);
    int ignored;
    ::waitpid(pid, &ignored, 0);
    if (!watcher) return watcher.error();
    return Error{Errc::internal, "the platform gave no exit watcher for worker " +
                                     std::to_string(pid) + " though it claims one"};
  }
  std::unique_ptr<WorkerProcess> process(
      new WorkerProcess(io, pid, std::move(*watcher), std::move(child_exits), std::move(on_exit)));
  const std::string prefix = "pool '" + pool + "' worker " + std::to_string(pid);
  process->stdout_ = std::make_unique<LogPipe>(io, std::move(out->first), prefix, "stdout");
  process->stderr_ = std::make_unique<LogPipe>(io, std::move(err->first), prefix, "stderr");
  return process;
}

WorkerProcess::WorkerProcess(asio::io_context& io, pid_t pid, platform::UniqueFd watcher,
                             std::unique_ptr<asio::signal_set> child_exits, ExitHandler on_exit)
    : pid_(pid), watcher_(io), child_exits_(std::move(child_exits)), on_exit_(std::move(on_exit)) {
  if (watcher) watcher_.assign(watcher.release());
  watch_exit();
}

WorkerProcess::~WorkerProcess() {
  if (!exit_status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  stop_watching();
}

void WorkerProcess::signal(int signal) const {
  if (!exit_status_) ::kill(pid_, signal);
}

void WorkerProcess::watch_exit() {
  if (watcher_.is_open()) {
    watcher_.async_wait(asio::posix::stream_descriptor::wait_read, [this](asio::error_code error) {
      if (error == asio::error::operation_aborted) return;
      reap();
    });
    return;
  }
  // Any child's exit wakes every worker's set; reap() tells whether it was this one.
  child_exits_->async_wait([this](asio::error_code error, int) {
    if (error == asio::error::operation_aborted) return;
    reap();
  });
}

void WorkerProcess::stop_watching() {
  asio::error_code ignored;
  watcher_.close(ignored);
  if (child_exits_) child_exits_->cancel(ignored);
}

void WorkerProcess::reap() {
  // An exit watcher fires only once this process is exiting, but kqueue's NOTE_EXIT may come
  // a moment before it is a zombie (a pidfd comes after): the wait may block, briefly, and a
  // re-armed watch would never fire again. SIGCHLD wakes every worker's set, so without a
  // watcher a child that has not exited is someone else's.
  const int options = watcher_.is_open() ? 0 : WNOHANG;
  int status = 0;
  pid_t reaped;
  while ((reaped = ::waitpid(pid_, &status, options)) < 0 && errno == EINTR) {
  }
  if (reaped == 0) return watch_exit();  // not this child
  exit_status_ = reaped == pid_ ? status : 0;
  stop_watching();
  if (on_exit_) {
    auto handler = std::move(on_exit_);
    handler(pid_, *exit_status_);  // may destroy this object: the last thing done here
  }
}

}  // namespace fastmd::daemon
