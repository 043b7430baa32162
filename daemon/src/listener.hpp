// listener.hpp — where peers come in: the daemon's listening Unix socket, either its own
// (0600 socket in a 0700 directory, guarded by a single-instance lock file beside it, a stale
// socket of a dead daemon replaced) or one inherited from systemd socket activation. Accepting
// survives EMFILE with the reserve-fd technique: the connection that could not be accepted is
// taken with the reserve fd and closed at once, so the backlog never wedges.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "fastmd/platform/fd.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::daemon {

/// An exclusive flock on `<socket>.lock`, holding the owner's pid: one daemon per socket path.
class InstanceLock {
 public:
  /// Takes the lock, or fails naming the pid of the daemon that holds it.
  static proto::Result<InstanceLock> acquire(const std::string& socket_path);

  const std::string& path() const { return path_; }

 private:
  InstanceLock(platform::UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}
  platform::UniqueFd fd_;
  std::string path_;
};

class Listener {
 public:
  using AcceptHandler = std::function<void(platform::UniqueFd)>;

  /// Listens on `socket_path`: creates its directory (0700) when missing, refuses a directory
  /// others may write to, takes the instance lock, replaces a stale socket file, binds 0600.
  static proto::Result<std::unique_ptr<Listener>> open_own(asio::io_context& io,
                                                           const std::string& socket_path);

  /// Adopts the socket systemd passed (LISTEN_FDS); fails when more than one was passed or it
  /// is not a listening AF_UNIX stream socket. Call only when socket_activated().
  static proto::Result<std::unique_ptr<Listener>> adopt_activated(asio::io_context& io);

  /// True when systemd passed listening sockets to this process.
  static bool socket_activated();

  Listener(asio::io_context& io, platform::UniqueFd socket, std::string path,
           std::optional<InstanceLock> lock);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  /// Starts accepting; `on_accept` gets each connection (non-blocking, CLOEXEC).
  void start(AcceptHandler on_accept);

  /// Stops accepting and closes the socket; an own socket file is removed.
  void close();

  /// Removes the own socket file and its lock file now, while still accepting what is in the
  /// backlog; close() then removes nothing (a new daemon may own the path by then).
  void retire();

  /// The path peers connect to ("" when systemd did not tell).
  const std::string& path() const { return path_; }
  bool activated() const { return !lock_.has_value(); }

  /// Connections closed at once because the daemon was out of fds.
  std::uint64_t dropped_for_emfile() const { return dropped_for_emfile_; }

 private:
  void wait_for_connections();
  void accept_ready();
  /// Takes one waiting connection with the reserve fd and closes it; false when none waited.
  bool drop_one_connection();

  asio::posix::stream_descriptor socket_;
  std::string path_;
  std::optional<InstanceLock> lock_;  // present for an own socket
  platform::UniqueFd reserve_;
  AcceptHandler on_accept_;
  std::uint64_t dropped_for_emfile_ = 0;
  bool retired_ = false;
};

}  // namespace fastmd::daemon
