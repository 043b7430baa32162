// loop_poll_set.hpp — the client core's set of watched fds, kept by Node's event loop: each
// fd the core watches (the daemon connection, every direct channel) gets a libuv poll handle
// of its own. A ready socket then wakes the loop directly, and the round that follows takes
// its event from memory, where a platform::Poller's epoll set, watched as one fd by libuv's
// own, costs a second epoll wake-up and an epoll_wait per call (measured: docs/sdk-node.md,
// "The event loop watches each channel").
//
// The set is filled from the connecting thread (Client::connect runs on a libuv work thread)
// before attach(); from then on the loop's thread keeps it (a caller-driven client is used
// from one thread; a change from another thread is applied by the loop, woken for it, but the
// fd must then stay open until it has been). Ready fds are collected over a loop turn and
// taken by one round at its end (a uv_check), however many channels were ready.
#pragma once

#include <poll.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fastmd/platform/poller.hpp"

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
  /// `on_ready(context)` runs once per loop turn in which an fd was ready or wake() was
  /// called, and once right after attaching. Throws on a libuv error.
  void attach(uv_loop_t* loop, OnReady on_ready, void* context);

  void change(int fd, void* tag, platform::Interest from, platform::Interest to) override;
  /// What the loop reported since the last wait. A wait with nothing reported (a round run by
  /// a timer, or after a spin before the loop sleeps: the loop has not polled) poll()s the
  /// fds, up to `timeout_ms`, in slices of kBlockingSliceMs (a blocking wait: never the
  /// addon's).
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
    bool changed = false;      // to (re)start on the loop's thread, by apply_locked()
  };

  bool on_loop_thread_locked() const;
  // Starts, changes or stops the handles of changed fds (the loop's thread, under mutex_).
  void apply_locked();
  void update_handle_locked(int fd, Watched& watched);
  // From libuv, on the loop's thread.
  void on_poll(int fd, Handle* handle, int status, int events);
  void on_wake();
  // Runs on_ready once, at the end of this loop turn's poll phase.
  void schedule_round();
  int poll_now(std::span<Ready> ready, int timeout_ms);

  std::mutex mutex_;
  std::unordered_map<int, Watched> watched_;  // under mutex_
  std::vector<Ready> reported_;               // events the loop reported; under mutex_
  bool any_changed_ = false;                  // under mutex_
  uv_loop_t* loop_ = nullptr;                 // set once by attach(); under mutex_
  std::thread::id loop_thread_;               // the same
  std::atomic<bool> woken_{false};

  // A blocking wait sees wake() and changes within this: no wake-up fd beside the loop's.
  static constexpr int kBlockingSliceMs = 1;
  std::vector<pollfd> polled_;  // poll_now()'s copy of the set (the thread running rounds)
  std::vector<void*> polled_tags_;

  // The loop's thread, from attach() on.
  std::atomic<uv_async_t*> wake_handle_{nullptr};
  uv_check_t* round_handle_ = nullptr;
  bool round_scheduled_ = false;
  OnReady on_ready_ = nullptr;
  void* context_ = nullptr;
};

}  // namespace fastmd::node
