// Portable poller: the set lives in the process (fd -> tag and interest, under a mutex) and
// each wait poll()s a copy of it, so a change that adds interest wakes a poll in progress to
// take a new copy; a removal needs no wake-up (the owner looks tags up). poll() sets are not
// fds, so fd() for an outer event loop is a wake-up that a relay thread, started by the first
// fd() call, notifies when the set has something; the relay then waits until wait() took it.
// The relay has a wake-up of its own for changes: were it woken through wait()'s, a wait()
// that drained it first would leave the relay polling an old copy. Differs from linux/ (epoll)
// in every one of these; on macOS and FreeBSD bsd/poller.cpp (kqueue) replaces this file and
// needs none of them.
#include "fastmd/platform/poller.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fastmd/platform/wake_up.hpp"

namespace fastmd::platform {

namespace {

struct Watched {
  void* tag;
  Interest interest;
};

short events_of(Interest interest) {
  return static_cast<short>((interest.input ? POLLIN : 0) | (interest.output ? POLLOUT : 0));
}

}  // namespace

struct Poller::State {
  WakeUp wake_up;  // ends wait()'s poll: wake(), or a change that adds interest
  std::mutex mutex;
  std::unordered_map<int, Watched> watched;  // under mutex
  bool waiting = false;                      // wait() polls a copy; under mutex
  // wait()'s copy (one waiting thread at a time).
  std::vector<pollfd> polled;
  std::vector<void*> tags;
  std::size_t next_first = 0;  // where the next wait starts reporting
  // The relay, for fd(); its fields under mutex.
  WakeUp outer;       // fd(): notified when the set has something
  WakeUp relay_wake;  // ends the relay's poll: a change that adds interest, or stopping
  bool relay_polling = false;
  bool relay_armed = false;
  bool relay_stopping = false;
  std::condition_variable relay_turn;
  std::thread relay;

  ~State() {
    if (!relay.joinable()) return;
    {
      std::lock_guard lock(mutex);
      relay_stopping = true;
    }
    relay_turn.notify_one();
    relay_wake.notify();
    relay.join();
  }

  // Copies the set into `fds` after `first` (wake-ups to poll too), and the tags.
  void copy_locked(std::vector<pollfd>& fds, std::vector<void*>& fd_tags,
                   std::initializer_list<int> first) {
    fds.clear();
    fd_tags.clear();
    for (int fd : first) {
      fds.push_back({fd, POLLIN, 0});
      fd_tags.push_back(nullptr);
    }
    for (const auto& [fd, entry] : watched) {
      fds.push_back({fd, events_of(entry.interest), 0});
      fd_tags.push_back(entry.tag);
    }
  }

  void relay_loop() {
    std::vector<pollfd> fds;
    std::vector<void*> unused_tags;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        relay_turn.wait(lock, [&] { return relay_armed || relay_stopping; });
        if (relay_stopping) return;
        // wait()'s wake-up too: wake() is for the outer loop as well.
        copy_locked(fds, unused_tags, {relay_wake.fd(), wake_up.fd()});
        relay_polling = true;
      }
      int count = ::poll(fds.data(), fds.size(), -1);
      const int error = errno;
      std::lock_guard lock(mutex);
      relay_polling = false;
      if (relay_stopping) return;
      if (count > 0 && fds[0].revents != 0) {
        relay_wake.drain();
        --count;  // a change: copy the set again
      }
      // Until wait() has taken what is ready (level-triggered, it would be found again), or
      // has met the error itself: either way the relay waits for it instead of spinning.
      if (count > 0 || (count < 0 && error != EINTR)) {
        relay_armed = false;
        outer.notify();
      }
    }
  }
};

proto::Result<Poller> Poller::open() {
  auto state = std::make_unique<State>();
  auto wake_up = WakeUp::open();
  if (!wake_up) return wake_up.error();
  state->wake_up = std::move(*wake_up);
  return Poller(std::move(state));
}

Poller::Poller(std::unique_ptr<State> state) : state_(std::move(state)) {}
Poller::Poller(Poller&&) noexcept = default;
Poller& Poller::operator=(Poller&&) noexcept = default;
Poller::~Poller() = default;

void Poller::change(int fd, void* tag, Interest from, Interest to) {
  if (from == to) return;
  const bool adds = (to.input && !from.input) || (to.output && !from.output);
  State& state = *state_;
  std::lock_guard lock(state.mutex);
  if (to.any()) {
    state.watched.insert_or_assign(fd, Watched{tag, to});
  } else {
    state.watched.erase(fd);
  }
  if (!adds) return;
  // The polls in progress copy the set again.
  if (state.waiting) state.wake_up.notify();
  if (state.relay_polling) state.relay_wake.notify();
}

int Poller::wait(std::span<Ready> ready, int timeout_ms) {
  State& state = *state_;
  bool relayed = false;
  {
    std::lock_guard lock(state.mutex);
    relayed = static_cast<bool>(state.outer);
    state.copy_locked(state.polled, state.tags, {state.wake_up.fd()});
    state.waiting = true;
  }
  // Taken now: what the relay saw is in this poll's copy too.
  if (relayed) state.outer.drain();
  const int count = ::poll(state.polled.data(), state.polled.size(), timeout_ms);
  const int error = errno;
  // Before the relay polls again, or it would find the wake-up just taken.
  if (count > 0 && state.polled[0].revents != 0) state.wake_up.drain();
  {
    std::lock_guard lock(state.mutex);
    state.waiting = false;
    if (relayed) state.relay_armed = true;
  }
  if (relayed) state.relay_turn.notify_one();
  if (count < 0) return error == EINTR ? 0 : -1;
  int reported = 0;
  if (count > 0 && state.polled[0].revents != 0) ready[static_cast<std::size_t>(reported++)] = {};
  // Starting where the last wait stopped, so that more ready fds than `ready` holds all get
  // their turn (as epoll's ready list does).
  const std::size_t watched = state.polled.size() - 1;
  const std::size_t start = state.next_first;
  for (std::size_t n = 0; n < watched && static_cast<std::size_t>(reported) < ready.size(); ++n) {
    const std::size_t i = 1 + (start + n) % watched;
    const short revents = state.polled[i].revents;
    // POLLNVAL: an fd removed (and closed) after the copy was made; nothing to report.
    if (revents == 0 || (revents & POLLNVAL) != 0) continue;
    ready[static_cast<std::size_t>(reported++)] = {
        state.tags[i], (revents & (POLLIN | POLLHUP | POLLERR)) != 0, (revents & POLLOUT) != 0};
    state.next_first = (start + n + 1) % watched;
  }
  return reported;
}

void Poller::wake() {
  state_->wake_up.notify();
}

int Poller::fd() const {
  State& state = *state_;
  std::lock_guard lock(state.mutex);
  if (!state.outer) {
    auto outer = WakeUp::open();
    auto relay_wake = WakeUp::open();
    if (!outer || !relay_wake) return -1;
    state.outer = std::move(*outer);
    state.relay_wake = std::move(*relay_wake);
    state.relay_armed = true;
    state.relay = std::thread([&state] { state.relay_loop(); });
  }
  return state.outer.fd();
}

}  // namespace fastmd::platform
