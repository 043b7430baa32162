// macOS and FreeBSD exit watcher: a kqueue holding one EVFILT_PROC/NOTE_EXIT filter for the
// process. A kqueue fd is readable while an event is pending (kqueue(2)), and nobody ever
// collects this one, so the fd stays readable from the exit on: to poll(), to the poller and
// to Asio alike, as a Linux pidfd is. Two differences: NOTE_EXIT may come a moment before the
// process is a zombie (a reaper must be ready to wait), and macOS refuses EVFILT_PROC for a
// process that has exited but is not reaped yet (ESRCH, where FreeBSD and pidfd_open accept
// it): such a zombie gets an EVFILT_USER event triggered at once, so its watcher is readable
// from the start. Replaces posix/exit_watcher.cpp (which has none). Written against kqueue(2)
// and compiled on Linux against its declarations; untested (docs/platforms.md).
#include "fastmd/platform/exit_watcher.hpp"

#include <sys/types.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/event.h>

#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::platform {

namespace {

// Makes `queue` readable now: for a process that has exited already.
proto::Status trigger_now(int queue) {
  struct kevent user_event;
  EV_SET(&user_event, 0, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, nullptr);
  if (::kevent(queue, &user_event, 1, nullptr, 0, nullptr) != 0) {
    return system_error("kevent(EVFILT_USER)", errno);
  }
  return {};
}

}  // namespace

proto::Result<UniqueFd> open_exit_watcher(pid_t pid) {
  // A kqueue is not inherited by fork(); close-on-exec covers a plain exec.
  UniqueFd queue(::kqueue());
  if (!queue) return system_error("kqueue", errno);
  if (::fcntl(queue.get(), F_SETFD, FD_CLOEXEC) != 0) return system_error("fcntl", errno);
  struct kevent exit_filter;
  EV_SET(&exit_filter, static_cast<uintptr_t>(pid), EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, nullptr);
  if (::kevent(queue.get(), &exit_filter, 1, nullptr, 0, nullptr) == 0) return queue;
  const int refused = errno;
  // ESRCH for a process that still exists (kill(2) finds it, or is refused: another user's)
  // is a zombie (macOS); for none at all it is the error pidfd_open gives too.
  const bool exists = ::kill(pid, 0) == 0 || errno == EPERM;
  if (refused != ESRCH || !exists) return system_error("kevent(EVFILT_PROC)", refused);
  if (auto triggered = trigger_now(queue.get()); !triggered) return triggered.error();
  return queue;
}

}  // namespace fastmd::platform
