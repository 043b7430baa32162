// user_daemon_dir.hpp — the per-user daemon's private directory and its start lock. The
// directory ($XDG_RUNTIME_DIR/fastmd, else /tmp/fastmd-<uid>) holds the per-user fastmd-ipcd's
// socket, its instance lock, its log and `ipcd.lock`, the lock a client holds while it starts
// the daemon (so two clients connecting at once start one) and the daemon holds while it
// removes its files on an idle exit (so no client starts a daemon into a half-removed one).
// The client side (daemon_locator.cpp) and `fastmd-ipcd --user` share this one rule.
#pragma once

#include <chrono>
#include <string>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

/// `$XDG_RUNTIME_DIR/fastmd` when XDG_RUNTIME_DIR is set, else `/tmp/fastmd-<uid>`.
std::string user_daemon_dir();

/// The per-user daemon's socket: user_daemon_dir() + "/ipcd.sock".
std::string user_daemon_socket();

/// The per-user daemon's log (its stderr): user_daemon_dir() + "/ipcd.log".
std::string user_daemon_log();

/// Creates `dir` with mode 0700 when it is missing (its parent must exist). An existing one
/// must be a directory (not a symbolic link) owned by this uid with mode 0700; otherwise
/// PERMISSION_DENIED says which of these is wrong and how to fix it.
proto::Status prepare_private_dir(const std::string& dir);

/// An exclusive flock on `<dir>/ipcd.lock`, released when destroyed. The file may be removed
/// by its holder (remove_file()); acquire() then notices that the file it locked is no longer
/// the one at the path and locks the new one, so removal never lets two holders in at once.
class StartLock {
 public:
  /// Waits up to `timeout` for the lock; DAEMON_UNREACHABLE naming the file after that.
  static proto::Result<StartLock> acquire(const std::string& dir,
                                          std::chrono::milliseconds timeout);

  /// Removes the lock file (still held until this object is destroyed).
  void remove_file();

 private:
  StartLock(platform::UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  platform::UniqueFd fd_;
  std::string path_;
};

}  // namespace fastmd::ipc::detail
