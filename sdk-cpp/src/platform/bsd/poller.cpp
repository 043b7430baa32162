// macOS and FreeBSD poller (untested here: compiles only there, docs/platforms.md): kqueue,
// whose set lives in the kernel as epoll's does, so a change from any thread reaches a wait in
// progress without waking it and fd() is the kqueue fd itself (readable while events are
// pending, kqueue(2)). Input and output are two filters (EVFILT_READ, EVFILT_WRITE), so one fd
// may come back as two entries with the same tag. Wake-ups are a pipe in the set, as the
// eventfd is in linux/. Replaces posix/poller.cpp, which needs a copy of the set and a relay.
#include "fastmd/platform/poller.hpp"

#include <sys/types.h>  // first: kqueue(2) on FreeBSD includes it before sys/event.h

#include <fcntl.h>
#include <sys/event.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/platform/wake_up.hpp"

namespace fastmd::platform {

struct Poller::State {
  UniqueFd set;
  WakeUp wake_up;
  std::array<struct kevent, 64> events;
};

namespace {

// One filter of `fd` on (EV_ADD) or off (EV_DELETE) when `before` and `after` differ.
void change_filter(int set, int fd, short filter, bool before, bool after, void* tag) {
  if (before == after) return;
  struct kevent change;
  EV_SET(&change, fd, filter, after ? EV_ADD : EV_DELETE, 0, 0, tag);
  // Cannot fail for a valid fd the caller tracks (added once, removed once).
  (void)::kevent(set, &change, 1, nullptr, 0, nullptr);
}

}  // namespace

proto::Result<Poller> Poller::open() {
  auto state = std::make_unique<State>();
  state->set = UniqueFd(::kqueue());
  if (!state->set) return system_error("kqueue", errno);
  // A kqueue is not inherited across fork anyway; FD_CLOEXEC keeps it out of exec'd programs
  // on systems that would (kqueuex(KQUEUE_CLOEXEC) is FreeBSD 14 only).
  if (::fcntl(state->set.get(), F_SETFD, FD_CLOEXEC) != 0) return system_error("fcntl", errno);
  auto wake_up = WakeUp::open();
  if (!wake_up) return wake_up.error();
  state->wake_up = std::move(*wake_up);
  struct kevent change;
  EV_SET(&change, state->wake_up.fd(), EVFILT_READ, EV_ADD, 0, 0, &state->wake_up);
  if (::kevent(state->set.get(), &change, 1, nullptr, 0, nullptr) != 0) {
    return system_error("kevent", errno);
  }
  return Poller(std::move(state));
}

Poller::Poller(std::unique_ptr<State> state) : state_(std::move(state)) {}
Poller::Poller(Poller&&) noexcept = default;
Poller& Poller::operator=(Poller&&) noexcept = default;
Poller::~Poller() = default;

void Poller::change(int fd, void* tag, Interest from, Interest to) {
  const int set = state_->set.get();
  change_filter(set, fd, EVFILT_READ, from.input, to.input, tag);
  change_filter(set, fd, EVFILT_WRITE, from.output, to.output, tag);
}

int Poller::wait(std::span<Ready> ready, int timeout_ms) {
  const int limit = static_cast<int>(std::min(ready.size(), state_->events.size()));
  timespec timeout{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000L};
  const int count = ::kevent(state_->set.get(), nullptr, 0, state_->events.data(), limit,
                             timeout_ms < 0 ? nullptr : &timeout);
  if (count < 0) return errno == EINTR ? 0 : -1;
  int reported = 0;
  for (int i = 0; i < count; ++i) {
    const struct kevent& event = state_->events[static_cast<std::size_t>(i)];
    if (event.udata == &state_->wake_up) {
      state_->wake_up.drain();
      ready[static_cast<std::size_t>(reported++)] = {nullptr, true, false};
      continue;
    }
    // EV_EOF counts as input, as a hang-up does: the read that follows sees the EOF or error.
    const bool output = event.filter == EVFILT_WRITE && (event.flags & EV_EOF) == 0;
    ready[static_cast<std::size_t>(reported++)] = {event.udata, !output, output};
  }
  return reported;
}

void Poller::wake() {
  state_->wake_up.notify();
}

int Poller::fd() const {
  return state_->set.get();
}

}  // namespace fastmd::platform
