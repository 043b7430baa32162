// The per-user daemon's directory and start lock (see user_daemon_dir.hpp).
#include "user_daemon_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::ipc::detail {

using proto::Errc;
using proto::Error;

std::string user_daemon_dir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && *runtime != '\0') return std::string(runtime) + "/fastmd";
  return "/tmp/fastmd-" + std::to_string(::geteuid());
}

std::string user_daemon_socket() {
  return user_daemon_dir() + "/ipcd.sock";
}

std::string user_daemon_log() {
  return user_daemon_dir() + "/ipcd.log";
}

proto::Status prepare_private_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return platform::system_error("cannot create the per-user daemon's directory " + dir, errno);
  }
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0) return platform::system_error("lstat " + dir, errno);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
  const std::string refused = "the per-user daemon's directory " + dir + " ";
  const std::string remedy =
      "; remove it (another user may have made it to intercept this one's "
      "daemon) or set XDG_RUNTIME_DIR to a private directory";
  if (!S_ISDIR(info.st_mode)) {
    return Error{Errc::permission_denied, refused + "is not a directory" + remedy};
  }
  if (info.st_uid != ::geteuid()) {
    return Error{Errc::permission_denied, refused + "belongs to uid " +
                                              std::to_string(info.st_uid) + ", not to uid " +
                                              std::to_string(::geteuid()) + remedy};
  }
  if ((info.st_mode & 07777) != 0700) {
    return Error{Errc::permission_denied,
                 refused + "has mode " + mode + ", not 0700; chmod 0700 " + dir + " or remove it"};
  }
  return {};
}

proto::Result<StartLock> StartLock::acquire(const std::string& dir,
                                            std::chrono::milliseconds timeout) {
  const std::string path = dir + "/ipcd.lock";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    platform::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd && errno == ENOENT) {
      // A daemon exiting idle removed the directory: make it again.
      if (auto ready = prepare_private_dir(dir); !ready) return ready.error();
      continue;
    }
    if (!fd) return platform::system_error("open " + path, errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      // The holder before us may have removed the file we locked: then lock the new one.
      struct stat held {
      }, current{};
      if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &current) == 0 &&
          held.st_ino == current.st_ino && held.st_dev == current.st_dev) {
        return StartLock(std::move(fd), path);
      }
      continue;
    }
    if (errno != EWOULDBLOCK) return platform::system_error("flock " + path, errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{Errc::daemon_unreachable,
                   path +
                       " stayed locked by another process starting the per-user fastmd-ipcd "
                       "for " +
                       std::to_string(timeout.count()) + " ms"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void StartLock::remove_file() {
  ::unlink(path_.c_str());
}

}  // namespace fastmd::ipc::detail
