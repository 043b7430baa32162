// The client core's fds watched by Node's event loop (see loop_poll_set.hpp).
#include "loop_poll_set.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "uv_handles.hpp"

namespace fastmd::node {

struct LoopPollSet::Handle {
  uv_poll_t poll;
  LoopPollSet* owner;
  int fd;
};

namespace {

int uv_events_of(platform::Interest interest) {
  // UV_DISCONNECT with any interest: a hang-up is input (PollSet::Ready), even while only
  // output is watched, as epoll reports it.
  return UV_DISCONNECT | (interest.input ? UV_READABLE : 0) | (interest.output ? UV_WRITABLE : 0);
}

short poll_events_of(platform::Interest interest) {
  return static_cast<short>((interest.input ? POLLIN : 0) | (interest.output ? POLLOUT : 0));
}

void close_handle(uv_handle_t* handle, void (*freed)(uv_handle_t*)) {
  if (!uv_is_closing(handle)) uv_close(handle, freed);
}

}  // namespace

LoopPollSet::~LoopPollSet() {
  for (auto& [fd, watched] : watched_) {
    if (watched.handle == nullptr) continue;
    watched.handle->owner = nullptr;
    uv_poll_stop(&watched.handle->poll);
    close_handle(reinterpret_cast<uv_handle_t*>(&watched.handle->poll),
                 [](uv_handle_t* handle) { delete static_cast<Handle*>(handle->data); });
  }
  if (round_handle_ != nullptr) {
    uv_check_stop(round_handle_);
    close_handle(reinterpret_cast<uv_handle_t*>(round_handle_),
                 [](uv_handle_t* handle) { delete reinterpret_cast<uv_check_t*>(handle); });
  }
  if (uv_async_t* wake_handle = wake_handle_.load(std::memory_order_acquire)) {
    close_handle(reinterpret_cast<uv_handle_t*>(wake_handle),
                 [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  }
}

void LoopPollSet::attach(uv_loop_t* loop, OnReady on_ready, void* context) {
  round_handle_ = new uv_check_t{};
  uv_check_init(loop, round_handle_);  // cannot fail
  round_handle_->data = this;
  // The loop's lifetime is the FastClient's LoopHold's business: no handle here keeps it.
  uv_unref(reinterpret_cast<uv_handle_t*>(round_handle_));
  auto* wake_handle = new uv_async_t{};
  const int status = uv_async_init(loop, wake_handle, [](uv_async_t* handle) {
    static_cast<LoopPollSet*>(handle->data)->on_wake();
  });
  if (status < 0) {
    delete wake_handle;
    check_uv(status, "uv_async_init");
  }
  wake_handle->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(wake_handle));
  on_ready_ = on_ready;
  context_ = context;
  wake_handle_.store(wake_handle, std::memory_order_release);
  {
    std::lock_guard lock(mutex_);
    loop_ = loop;
    loop_thread_ = std::this_thread::get_id();
    for (auto& [fd, watched] : watched_) watched.changed = true;
    any_changed_ = true;
    apply_locked();
  }
  // Whatever arrived while the client connected is found by a first round (it poll()s).
  schedule_round();
}

bool LoopPollSet::on_loop_thread_locked() const {
  return loop_ != nullptr && std::this_thread::get_id() == loop_thread_;
}

void LoopPollSet::change(int fd, void* tag, platform::Interest from, platform::Interest to) {
  if (from == to) return;
  {
    std::lock_guard lock(mutex_);
    Watched& watched = watched_[fd];
    watched.tag = tag;
    watched.interest = to;
    if (on_loop_thread_locked()) {
      update_handle_locked(fd, watched);  // may erase the entry
    } else {
      // Before attach() the set is only recorded; after it, the loop applies the change.
      watched.changed = true;
      any_changed_ = true;
      if (uv_async_t* handle = wake_handle_.load(std::memory_order_acquire)) {
        uv_async_send(handle);
      }
    }
  }
}

void LoopPollSet::apply_locked() {
  if (!any_changed_) return;
  any_changed_ = false;
  for (auto it = watched_.begin(); it != watched_.end();) {
    const int fd = it->first;
    Watched& watched = it->second;
    ++it;  // update_handle_locked may erase the entry
    if (!watched.changed) continue;
    watched.changed = false;
    update_handle_locked(fd, watched);
  }
}

void LoopPollSet::update_handle_locked(int fd, Watched& watched) {
  if (!watched.interest.any()) {
    if (watched.handle != nullptr) {
      // Stopped now, before the core closes the fd (libuv takes it out of its set at once);
      // freed once libuv is done with it.
      watched.handle->owner = nullptr;
      uv_poll_stop(&watched.handle->poll);
      close_handle(reinterpret_cast<uv_handle_t*>(&watched.handle->poll),
                   [](uv_handle_t* handle) { delete static_cast<Handle*>(handle->data); });
    }
    watched_.erase(fd);
    return;
  }
  // Like platform::Poller's epoll_ctl, these cannot fail for a socket the core tracks (added
  // once, removed once); libuv reports a later failure to the callback, as an error.
  if (watched.handle == nullptr) {
    auto* handle = new Handle{{}, this, fd};
    if (uv_poll_init(loop_, &handle->poll, fd) < 0) {
      delete handle;
      return;
    }
    handle->poll.data = handle;
    uv_unref(reinterpret_cast<uv_handle_t*>(&handle->poll));
    watched.handle = handle;
  }
  (void)uv_poll_start(&watched.handle->poll, uv_events_of(watched.interest),
                      [](uv_poll_t* poll, int status, int events) {
                        auto* handle = static_cast<Handle*>(poll->data);
                        if (handle->owner != nullptr) {
                          handle->owner->on_poll(handle->fd, handle, status, events);
                        }
                      });
}

void LoopPollSet::on_poll(int fd, Handle* handle, int status, int events) {
  {
    std::lock_guard lock(mutex_);
    auto found = watched_.find(fd);
    if (found == watched_.end() || found->second.handle != handle) return;
    // An error on the fd is input: the read that follows finds it.
    const bool input = status < 0 || (events & (UV_READABLE | UV_DISCONNECT)) != 0;
    reported_.push_back({found->second.tag, input, (events & UV_WRITABLE) != 0});
    if (status < 0) {
      // libuv stopped the handle: started again by the round's wait(), so an fd whose error
      // or bytes the round leaves is reported again, as a level-triggered set must.
      found->second.changed = true;
      any_changed_ = true;
    }
  }
  schedule_round();
}

void LoopPollSet::on_wake() {
  {
    std::lock_guard lock(mutex_);
    apply_locked();
  }
  if (woken_.load(std::memory_order_acquire)) schedule_round();
}

void LoopPollSet::schedule_round() {
  // One round per loop turn, after every fd's callback of the turn (the check phase follows
  // the poll phase): K ready channels make one round and one report to JS, not K.
  if (round_scheduled_) return;
  round_scheduled_ = true;
  uv_check_start(round_handle_, [](uv_check_t* handle) {
    auto* self = static_cast<LoopPollSet*>(handle->data);
    uv_check_stop(handle);
    self->round_scheduled_ = false;
    // The last thing done here: the round may destroy this set (the client closing).
    self->on_ready_(self->context_);
  });
}

void LoopPollSet::wake() {
  woken_.store(true, std::memory_order_release);
  if (uv_async_t* handle = wake_handle_.load(std::memory_order_acquire)) uv_async_send(handle);
}

int LoopPollSet::wait(std::span<Ready> ready, int timeout_ms) {
  std::size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    if (on_loop_thread_locked()) apply_locked();
    const std::size_t taken = std::min(reported_.size(), ready.size());
    std::copy_n(reported_.begin(), taken, ready.begin());
    reported_.erase(reported_.begin(), reported_.begin() + static_cast<std::ptrdiff_t>(taken));
    count = taken;
  }
  if (count < ready.size() && woken_.exchange(false, std::memory_order_acq_rel)) {
    ready[count++] = {nullptr, true, false};
  }
  if (count > 0) return static_cast<int>(count);
  // Nothing reported: a round the loop did not start (a timer, a spin) looks for itself. A
  // blocking wait (the C++ API's blocking calls; the addon makes none) polls in slices, each
  // over the set as it is then, until something is ready, wake() was called or time ran out.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int slice = timeout_ms < 0 ? kBlockingSliceMs : 0;
    if (timeout_ms > 0) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      slice = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, kBlockingSliceMs));
    }
    const int found = poll_now(ready, slice);
    if (found != 0 || slice == 0) return found;
  }
}

int LoopPollSet::poll_now(std::span<Ready> ready, int timeout_ms) {
  polled_.clear();
  polled_tags_.clear();
  {
    std::lock_guard lock(mutex_);
    for (const auto& [fd, watched] : watched_) {
      polled_.push_back({fd, poll_events_of(watched.interest), 0});
      polled_tags_.push_back(watched.tag);
    }
  }
  const int polled = ::poll(polled_.data(), polled_.size(), timeout_ms);
  if (polled < 0) return errno == EINTR ? 0 : -1;
  std::size_t count = 0;
  if (woken_.exchange(false, std::memory_order_acq_rel)) ready[count++] = {nullptr, true, false};
  for (std::size_t i = 0; i < polled_.size() && count < ready.size(); ++i) {
    const short got = polled_[i].revents;
    if (got == 0) continue;
    ready[count++] = {polled_tags_[i], (got & (POLLIN | POLLHUP | POLLERR)) != 0,
                      (got & POLLOUT) != 0};
  }
  return static_cast<int>(count);
}

}  // namespace fastmd::node
