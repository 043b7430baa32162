// Finding or starting the daemon (see daemon_locator.hpp).
#include "daemon_locator.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "executable_search.hpp"
#include "fastmd/platform/close_fds.hpp"
#include "fastmd/platform/pipe.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "rollout.hpp"
#include "user_daemon_dir.hpp"

extern char** environ;

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

namespace {

bool answers(const std::string& socket_path) {
  return platform::connect_unix(socket_path).ok();
}

// The last lines of the per-user daemon's log, for an error about a start that failed.
std::string log_tail(const std::string& log) {
  std::ifstream in(log);
  std::ostringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  while (!all.empty() && all.back() == '\n') all.pop_back();
  if (all.size() > 1000) all = "..." + all.substr(all.size() - 1000);
  return all.empty() ? "nothing in " + log : log + " says: " + all;
}

// Starts `daemon --user` detached: a child that calls setsid() and forks the daemon, then
// exits, so the daemon is reparented away (no zombie in the caller, no controlling terminal).
// The child reports the daemon's pid through a close-on-exec pipe, and the daemon its exec
// error if exec fails. Only async-signal-safe calls run between fork() and exec().
proto::Result<pid_t> spawn_detached(const std::string& daemon, const std::string& log) {
  auto pipe = platform::make_pipe();
  if (!pipe) return pipe.error();
  auto& [report_read, report_write] = *pipe;
  const char* argv[] = {daemon.c_str(), "--user", nullptr};
  const pid_t child = ::fork();
  if (child < 0) return platform::system_error("fork", errno);
  if (child == 0) {
    ::setsid();
    const pid_t grandchild = ::fork();
    if (grandchild != 0) {
      const int reported = grandchild;
      [[maybe_unused]] auto written = ::write(report_write.get(), &reported, sizeof reported);
      ::_exit(grandchild < 0 ? 1 : 0);
    }
    const int null_fd = ::open("/dev/null", O_RDWR);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, STDERR_FILENO);
    // Nothing else of the caller's (its sockets, pipes to its parent) lives on in the daemon.
    platform::close_inherited_fds(report_write.get());
    ::execve(daemon.c_str(), const_cast<char* const*>(argv), environ);
    const int failure = errno;
    [[maybe_unused]] auto written = ::write(report_write.get(), &failure, sizeof failure);
    ::_exit(127);
  }
  report_write.reset();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // The pid, then (only when exec failed) its errno; EOF once the daemon has exec'd.
  int words[2] = {-1, 0};
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(words);
  for (;;) {
    const ssize_t n = ::read(report_read.get(), bytes + got, sizeof words - got);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      if (got == sizeof words) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (got < sizeof(int) || words[0] <= 0) {
    return Error{Errc::daemon_unreachable, "could not start " + daemon + ": fork failed"};
  }
  if (got == sizeof words) {
    return Error{Errc::daemon_unreachable,
                 "could not start " + daemon + ": " + std::strerror(words[1])};
  }
  return static_cast<pid_t>(words[0]);
}

proto::Result<DaemonLocation> start_user_daemon(const LocateOptions& options,
                                                const std::string& dir, const std::string& socket) {
  if (auto ready = prepare_private_dir(dir); !ready) return ready.error();
  auto lock = StartLock::acquire(dir, options.start_timeout);
  if (!lock) return lock.error();
  // Another process may have started it while this one waited for the lock.
  if (answers(socket)) return DaemonLocation{socket, DaemonSource::user_running};
  auto daemon = find_executable("fastmd-ipcd", options.caller_dirs.empty()
                                                   ? std::vector<std::string>{own_executable_dir()}
                                                   : options.caller_dirs);
  if (!daemon) return daemon.error();
  const std::string log = user_daemon_log();
  auto pid = spawn_detached(*daemon, log);
  if (!pid) return pid.error();
  const auto deadline = std::chrono::steady_clock::now() + options.start_timeout;
  for (;;) {
    if (answers(socket)) return DaemonLocation{socket, DaemonSource::user_started};
    if (::kill(*pid, 0) != 0 && errno == ESRCH) {
      return Error{Errc::daemon_unreachable, "the per-user " + *daemon + " (pid " +
                                                 std::to_string(*pid) + ") exited at start; " +
                                                 log_tail(log)};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{Errc::daemon_unreachable,
                   "the per-user " + *daemon + " (pid " + std::to_string(*pid) +
                       ") did not listen on " + socket + " within " +
                       std::to_string(options.start_timeout.count()) + " ms; " + log_tail(log)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

std::string_view daemon_source_name(DaemonSource source) {
  switch (source) {
    case DaemonSource::configured:
      return "configured";
    case DaemonSource::system:
      return "system";
    case DaemonSource::user_running:
      return "user-running";
    case DaemonSource::user_started:
      return "user-started";
  }
  return "configured";
}

proto::Result<DaemonLocation> locate_daemon(const LocateOptions& options) {
  if (!options.socket_path.empty()) return DaemonLocation{options.socket_path};
  if (const char* from_env = std::getenv("FASTMD_IPC_SOCKET"); from_env && *from_env) {
    return DaemonLocation{from_env};
  }
  const std::string system(kSystemSocketPath);
  if (answers(system)) return DaemonLocation{system, DaemonSource::system};
  const std::string dir = user_daemon_dir();
  const std::string socket = user_daemon_socket();
  if (answers(socket)) return DaemonLocation{socket, DaemonSource::user_running};
  auto started = start_user_daemon(options, dir, socket);
  if (!started) {
    return Error{started.error().code,
                 "no system fastmd-ipcd answers on " + system +
                     ", and the per-user one could not be had: " + started.error().message};
  }
  return started;
}

proto::Result<AutoChoice> choose_auto(const LocateOptions& options) {
  auto rollout = rollout_decision();
  if (!rollout) return rollout.error();
  if (!rollout->fast) return AutoChoice{false, {}, rollout->reason};
  auto location = locate_daemon(options);
  if (!location) return location.error();
  return AutoChoice{true, std::move(*location), {}};
}

}  // namespace fastmd::ipc::detail
