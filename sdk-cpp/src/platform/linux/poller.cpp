// Linux poller: the set lives in the kernel (epoll), so changes from any thread reach a wait
// in progress without waking it, and fd() is the epoll fd itself, which is pollable. Wake-ups
// are an eventfd in the set. Differs from posix/ in needing no copy of the set, no relay
// thread and no wake-up per change.
#include "fastmd/platform/poller.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/platform/wake_up.hpp"

namespace fastmd::platform {

struct Poller::State {
  UniqueFd set;
  WakeUp wake_up;
  std::array<epoll_event, 64> events;
};

namespace {

std::uint32_t events_of(Interest interest) {
  return (interest.input ? EPOLLIN : 0u) | (interest.output ? EPOLLOUT : 0u);
}

}  // namespace

proto::Result<Poller> Poller::open() {
  auto state = std::make_unique<State>();
  state->set = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!state->set) return system_error("epoll_create1", errno);
  auto wake_up = WakeUp::open();
  if (!wake_up) return wake_up.error();
  state->wake_up = std::move(*wake_up);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = &state->wake_up;
  if (::epoll_ctl(state->set.get(), EPOLL_CTL_ADD, state->wake_up.fd(), &event) != 0) {
    return system_error("epoll_ctl", errno);
  }
  return Poller(std::move(state));
}

Poller::Poller(std::unique_ptr<State> state) : state_(std::move(state)) {}
Poller::Poller(Poller&&) noexcept = default;
Poller& Poller::operator=(Poller&&) noexcept = default;
Poller::~Poller() = default;

void Poller::change(int fd, void* tag, Interest from, Interest to) {
  if (from == to) return;
  epoll_event event{};
  event.events = events_of(to);
  event.data.ptr = tag;
  const int op = !to.any() ? EPOLL_CTL_DEL : !from.any() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  // Cannot fail for a valid fd the caller tracks (added once, removed once).
  (void)::epoll_ctl(state_->set.get(), op, fd, &event);
}

int Poller::wait(std::span<Ready> ready, int timeout_ms) {
  const int limit = static_cast<int>(std::min(ready.size(), state_->events.size()));
  const int count = ::epoll_wait(state_->set.get(), state_->events.data(), limit, timeout_ms);
  if (count < 0) return errno == EINTR ? 0 : -1;
  int reported = 0;
  for (int i = 0; i < count; ++i) {
    const epoll_event& event = state_->events[static_cast<std::size_t>(i)];
    if (event.data.ptr == &state_->wake_up) {
      state_->wake_up.drain();
      ready[static_cast<std::size_t>(reported++)] = {nullptr, true, false};
      continue;
    }
    ready[static_cast<std::size_t>(reported++)] = {
        event.data.ptr, (event.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0,
        (event.events & EPOLLOUT) != 0};
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
