// cluster.hpp — a throwaway fastmd-ipc installation for one test: the real fastmd-ipcd on a
// socket in a temporary directory (tests/support's DaemonProcess, restartable on the same
// path), and fastmd-test-worker processes, each killed and reaped when the test ends.
// Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon_process.hpp"
#include "fastmd/ipc/client.hpp"

namespace fastmd::testing {

/// A child process, killed (SIGKILL) and reaped on destruction unless it already exited.
class ChildProcess {
 public:
  /// Starts `argv` (argv[0] is a path); throws std::runtime_error when it cannot.
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int signo) const;
  /// The wait status once it exited, std::nullopt if still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// How many mappings of `pid` (/proc/PID/maps) name `name`: shared-memory objects are named
/// (memfd:fastmd-oneoff, memfd:fastmd-ring, ...), so counting them leaves the sanitizers' own
/// mappings out.
std::size_t mappings_named(pid_t pid, std::string_view name);

/// Whether `pid` has a handler installed for `signo` (SigCgt in /proc/PID/status): a test that
/// signals a program which has not reached its handler yet would see the default action.
bool catches_signal(pid_t pid, int signo);

class Cluster {
 public:
  /// Starts the daemon (extra flags appended) on a socket in a fresh directory.
  explicit Cluster(std::vector<std::string> daemon_flags = {});
  ~Cluster();

  const std::string& socket_path() const { return socket_path_; }

  /// Starts (again) the daemon on the same socket and waits until it is ready.
  void start_daemon();
  /// kill -9 of the daemon.
  void kill_daemon();

  /// Starts a fastmd-test-worker named `name` with `threads` handler threads, the adaptive
  /// spin budget `spin` (0: never spin) and rings of `ring_bytes` (0: socket frames only).
  ChildProcess& start_worker(const std::string& name, unsigned threads = 1,
                             std::chrono::microseconds spin = {},
                             std::uint32_t ring_bytes = ipc::policy::kRingBytes);

  /// A client of this cluster's daemon; throws when it cannot connect.
  std::unique_ptr<ipc::Client> client(ipc::ClientOptions options = {});

 private:
  test::TempDir directory_;
  std::string socket_path_;
  std::vector<std::string> daemon_flags_;
  std::unique_ptr<test::DaemonProcess> daemon_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

}  // namespace fastmd::testing
