// daemon_process.hpp — a real fastmd-ipcd for a test: started with posix_spawn on a socket in a
// fresh temporary directory, its stderr captured to a log file there, its readiness seen
// through the systemd notify protocol (a private NOTIFY_SOCKET), and always stopped and reaped
// by the destructor. Every wait is bounded.
//
//     fastmd::test::DaemonProcess daemon({"--handshake-timeout-ms", "200"});
//     auto peer = fastmd::test::RawPeer::connect(daemon.socket_path());
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "fastmd/platform/fd.hpp"

namespace fastmd::test {

using namespace std::chrono_literals;

/// A directory from mkdtemp, removed with its contents by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// What a finished command wrote (stdout and stderr together) and its exit code.
struct CommandResult {
  int exit_code = -1;  // -1: killed after the timeout
  std::string output;
};

/// Runs FASTMD_BIN_DIR/<program> with `args`, for at most `timeout`.
CommandResult run_program(const std::string& program, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = 10s);

class DaemonProcess {
 public:
  /// Starts FASTMD_BIN_DIR/fastmd-ipcd --socket <socket_path> plus `extra_args`, and waits
  /// (at most 10 s) for its READY=1. The socket defaults to <tmp>/ipcd.sock in a fresh
  /// directory. Throws std::runtime_error, with the daemon's log, when it exits or does not
  /// get ready.
  explicit DaemonProcess(std::vector<std::string> extra_args = {}, std::string socket_path = {});
  /// Kills (SIGKILL) the daemon if it still runs, and reaps it.
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& directory() const { return dir_.path(); }

  /// Sends `signal` and waits at most `timeout` for the exit. Returns the exit code (128 + n
  /// when killed by signal n), or std::nullopt when it still runs after the timeout.
  std::optional<int> stop(int signal = 15, std::chrono::milliseconds timeout = 10s);

  /// Waits at most `timeout` for the daemon to exit on its own; its exit code as in stop().
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// The number of fds the daemon has open now (/proc/<pid>/fd).
  std::size_t open_fds() const;

  /// Waits at most `timeout` for the open fd count to become `expected`; returns the last count.
  std::size_t wait_open_fds(std::size_t expected, std::chrono::milliseconds timeout = 5s) const;

  /// Everything the daemon wrote to stderr so far.
  std::string log() const;

  /// Waits at most `timeout` for a log line containing `text`.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout = 5s) const;

  /// Waits at most `timeout` for an sd_notify datagram containing `text` (e.g. "READY=1");
  /// datagrams read while waiting are kept, so each one is seen by some wait.
  bool wait_for_notification(const std::string& text, std::chrono::milliseconds timeout = 5s);

  /// Sets the daemon's RLIMIT_NOFILE (soft and hard) with prlimit(2).
  void set_fd_limit(rlim_t limit);

 private:
  TempDir dir_;
  std::string socket_path_;
  std::string log_path_;
  platform::UniqueFd notify_socket_;
  std::vector<std::string> notifications_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace fastmd::test
