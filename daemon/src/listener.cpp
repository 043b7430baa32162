// The daemon's listening socket (see listener.hpp).
#include "listener.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "fastmd/platform/unix_socket.hpp"
#include "platform/service_manager.hpp"

namespace fastmd::daemon {

using platform::UniqueFd;
using proto::Errc;
using proto::Error;

namespace {

proto::Status prepare_directory(const std::string& directory) {
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return platform::system_error("mkdir " + directory, errno);
  }
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0) {
    return platform::system_error("stat " + directory, errno);
  }
  if (!S_ISDIR(info.st_mode)) {
    return Error{Errc::invalid_field, directory + " is not a directory"};
  }
  if (info.st_uid != ::geteuid() && info.st_uid != 0) {
    return Error{Errc::permission_denied, "socket directory " + directory + " belongs to uid " +
                                              std::to_string(info.st_uid) +
                                              ", not to this daemon's uid " +
                                              std::to_string(::geteuid())};
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (info.st_mode & S_ISVTX) == 0) {
    return Error{Errc::permission_denied,
                 "socket directory " + directory +
                     " is writable by others; use a 0700 directory (e.g. the default path)"};
  }
  return {};
}

std::string read_holder_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof(text) - 1, 0);
  if (n <= 0) return "unknown pid";
  std::string pid(text, static_cast<std::size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return "pid " + pid;
}

// Removes a socket file no live daemon serves (the caller holds the instance lock).
proto::Status replace_stale_socket(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return {};
    return platform::system_error("lstat " + path, errno);
  }
  if (!S_ISSOCK(info.st_mode)) {
    return Error{Errc::invalid_field, path +
                                          " exists and is not a socket; remove it or choose "
                                          "another --socket"};
  }
  if (::unlink(path.c_str()) != 0) return platform::system_error("unlink " + path, errno);
  spdlog::info("replaced the stale socket {} of a daemon that is gone", path);
  return {};
}

UniqueFd open_reserve_fd() {
  return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace

proto::Result<InstanceLock> InstanceLock::acquire(const std::string& socket_path) {
  const std::string path = socket_path + ".lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return platform::system_error("open " + path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error{Errc::invalid_field, "another fastmd-ipcd (" + read_holder_pid(fd.get()) +
                                            ") is serving " + socket_path +
                                            "; stop it first or choose another --socket"};
    }
    return platform::system_error("flock " + path, errno);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return platform::system_error("write " + path, errno);
  }
  return InstanceLock(std::move(fd), path);
}

proto::Result<std::unique_ptr<Listener>> Listener::open_own(asio::io_context& io,
                                                            const std::string& socket_path) {
  const std::string directory = std::filesystem::path(socket_path).parent_path().string();
  if (auto ready = prepare_directory(directory.empty() ? "." : directory); !ready) {
    return ready.error();
  }
  auto lock = InstanceLock::acquire(socket_path);
  if (!lock) return lock.error();
  if (auto replaced = replace_stale_socket(socket_path); !replaced) return replaced.error();

  // The socket file is created 0600 by bind(); the umask is process-wide, and this runs
  // before the daemon starts any other thread.
  const mode_t previous = ::umask(0177);
  auto socket = platform::listen_unix(socket_path);
  ::umask(previous);
  if (!socket) return socket.error();
  return std::make_unique<Listener>(io, std::move(*socket), socket_path, std::move(*lock));
}

bool Listener::socket_activated() {
  return platform::service_manager_passed_sockets();
}

proto::Result<std::unique_ptr<Listener>> Listener::adopt_activated(asio::io_context& io) {
  auto taken = platform::take_activated_socket();
  if (!taken) return taken.error();
  UniqueFd socket = std::move(*taken);
  const int fd = socket.get();
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return platform::system_error("fcntl", errno);
  if (auto nonblocking = platform::set_nonblocking(fd, true); !nonblocking) {
    return nonblocking.error();
  }
  sockaddr_un address{};
  socklen_t length = sizeof(address);
  std::string path;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
      length > offsetof(sockaddr_un, sun_path) && address.sun_path[0] != '\0') {
    path = address.sun_path;
  }
  return std::make_unique<Listener>(io, std::move(socket), std::move(path), std::nullopt);
}

Listener::Listener(asio::io_context& io, UniqueFd socket, std::string path,
                   std::optional<InstanceLock> lock)
    : socket_(io, socket.release()),
      path_(std::move(path)),
      lock_(std::move(lock)),
      reserve_(open_reserve_fd()) {}

Listener::~Listener() {
  close();
}

void Listener::start(AcceptHandler on_accept) {
  on_accept_ = std::move(on_accept);
  wait_for_connections();
}

void Listener::close() {
  if (!socket_.is_open()) return;
  asio::error_code ignored;
  socket_.close(ignored);
  if (lock_ && !retired_) ::unlink(path_.c_str());
}

void Listener::retire() {
  if (!lock_ || retired_) return;
  retired_ = true;
  ::unlink(path_.c_str());
  ::unlink(lock_->path().c_str());
}

void Listener::wait_for_connections() {
  socket_.async_wait(asio::posix::stream_descriptor::wait_read, [this](asio::error_code error) {
    if (error) return;  // closed
    accept_ready();
    wait_for_connections();
  });
}

void Listener::accept_ready() {
  if (!reserve_) reserve_ = open_reserve_fd();  // fds were short when it was last used
  for (;;) {
    const int fd = platform::accept_cloexec(socket_.native_handle(), true);
    if (fd >= 0) {
      on_accept_(UniqueFd(fd));
      continue;
    }
    switch (errno) {
      case EINTR:
      case ECONNABORTED:
        continue;
      case EMFILE:
      case ENFILE:
        // accept() reports EMFILE before it looks at the backlog: stop once it is empty.
        if (!drop_one_connection()) return;
        continue;
      case EAGAIN:
        return;
      default:
        spdlog::error("accept on {} failed: {}", path_, std::strerror(errno));
        return;
    }
  }
}

bool Listener::drop_one_connection() {
  // Free the reserve fd, take the waiting connection with it and close it, then re-arm.
  reserve_.reset();
  UniqueFd dropped(platform::accept_cloexec(socket_.native_handle(), false));
  const bool was_waiting = dropped.valid();
  if (was_waiting) {
    ++dropped_for_emfile_;
    spdlog::warn(
        "out of file descriptors: closed a new connection at once ({} so far); raise "
        "LimitNOFILE or lower --max-sessions",
        dropped_for_emfile_);
  }
  dropped.reset();
  reserve_ = open_reserve_fd();
  return was_waiting && reserve_.valid();
}

}  // namespace fastmd::daemon
