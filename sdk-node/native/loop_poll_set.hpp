// loop_poll_set.hpp — the client core's set of watched fds, kept by Node's event loop: each
// fd the core watches (the daemon connection, every direct channel) gets a libuv poll handle
// of its own. A ready socket then wakes the loop directly, and the round that follows takes
// its event from memory, where a platform::Poller's epoll set, watched as one fd by libuv's
// own, costs a second epoll wake-up and an epoll_wait per call (measured: docs/sdk-node.md,
// "The event loop watches each channel").
//
// The set is filled from the connecting thread (Client::connect runs on a libuv work thread)
// before attach(); from then on the loop's thread keeps it. A change from another thread is
// applied by the loop, woken for it.
#pragma once

#include <uv.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fastmd/platform/poller.hpp"
#include "fastmd/platform/wake_up.hpp"

namespace fastmd::node {

class LoopPollSet final : public platform::PollSet {
 public:
  /// Called on the loop's thread when wait() has something to report.
  using OnReady = void (*)(void* context);

  LoopPollSet() = default;
  LoopPollSet(const LoopPollSet&) = delete;
  LoopPollSet& operator=(const LoopPollSet&) = delete;
  /// On the loop's thread once attached: stops every handle (libuv frees them later).
  ~LoopPollSet() override;

  /// Hands the set to `loop` (on its thread): every fd watched so far gets its handle now, and
  /// `on_ready(context)` runs whenever an fd is ready or wake() was called. Throws on a libuv
  /// error.
  void attach(uv_loop_t* loop, OnReady on_ready, void* context);

  void change(int fd, void* tag, platform::Interest from, platform::Interest to) override;
  /// What the loop reported since the last wait. A wait with nothing reported (a round run by
  /// a timer, or spinning, which keeps the loop from running) poll()s the fds, up to
  /// `timeout_ms`.
  int wait(std::span<Ready> ready, int timeout_ms) override;
  void wake() override;
  /// -1: the loop watches each fd itself.
  int fd() const override { return -1; }

 private:
  struct Handle;  // a uv_poll_t and what its callback needs; freed by uv_close's callback
  struct Watched {
    void* tag = nullptr;
    platform::Interest interest;
    Handle* handle = nullptr;  // the loop's thread; null until attached and started
    bool changed = false;      // interest changed off the loop's thread: apply() starts it
  };

  bool on_loop_thread() const;
  // Starts, changes or stops the handles of changed fds (the loop's thread, under mutex_).
  void apply_locked();
  void update_handle_locked(int fd, Watched& watched);
  // From libuv, on the loop's thread.
  void on_poll(int fd, Handle* handle, int status, int events);
  void on_wake();
  void notify_ready();
  int poll_now(std::span<Ready> ready, int timeout_ms);

  std::mutex mutex_;
  std::unordered_map<int, Watched> watched_;  // under mutex_
  std::vector<Ready> reported_;               // events the loop reported; under mutex_
  bool any_changed_ = false;                  // under mutex_
  std::atomic<bool> woken_{false};
  // A wait that blocks in poll() (a blocking call of the C++ API; the addon makes none) is
  // ended by wake() through this, and only while it blocks (blocked_): the loop needs no
  // second fd.
  platform::WakeUp blocked_wake_up_;
  std::atomic<bool> blocked_{false};

  uv_loop_t* loop_ = nullptr;  // set once by attach()
  std::atomic<uv_async_t*> wake_handle_{nullptr};
  std::thread::id loop_thread_;
  OnReady on_ready_ = nullptr;
  void* context_ = nullptr;
};

}  // namespace fastmd::node
