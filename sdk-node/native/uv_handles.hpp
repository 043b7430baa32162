// uv_handles.hpp — the addon's libuv handles, each owned RAII-style (the watched fds are
// loop_poll_set.hpp's):
//   LoopTimer:   one callback at a time, at a given moment (the core's next wake-up), never
//                keeps the loop alive;
//   LoopHold:    keeps the loop alive while something is in flight, so the process exits by
//                itself when nothing is;
//   LoopBeforeSleep: a callback on every turn of the loop just before it polls for I/O (a
//                uv_prepare handle: every callback, microtask and due timer of the turn ran),
//                never keeps the loop alive.
// libuv frees a handle only after uv_close's callback, so both allocate their handle on the
// heap and let that callback delete it; an owner may be destroyed inside its own callback.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace fastmd::node {

/// Throws std::runtime_error naming `what` and libuv's message when `status` is an error.
void check_uv(int status, const char* what);

class LoopTimer {
 public:
  using Callback = std::function<void()>;

  LoopTimer(uv_loop_t* loop, Callback on_due);
  LoopTimer(const LoopTimer&) = delete;
  LoopTimer& operator=(const LoopTimer&) = delete;
  ~LoopTimer();

  /// Calls back once, `delay_ms` from now (replacing an earlier arm).
  void arm(std::uint64_t delay_ms);
  void stop();

 private:
  struct State;
  State* state_;
};

class LoopBeforeSleep {
 public:
  using Callback = std::function<void()>;

  LoopBeforeSleep(uv_loop_t* loop, Callback before_sleep);
  LoopBeforeSleep(const LoopBeforeSleep&) = delete;
  LoopBeforeSleep& operator=(const LoopBeforeSleep&) = delete;
  ~LoopBeforeSleep();

 private:
  struct State;
  State* state_;
};

class LoopHold {
 public:
  explicit LoopHold(uv_loop_t* loop);
  LoopHold(const LoopHold&) = delete;
  LoopHold& operator=(const LoopHold&) = delete;
  ~LoopHold();

  /// Keeps the loop alive while `busy`; lets it end otherwise. Cheap to call on every change.
  void set_busy(bool busy);

 private:
  uv_async_t* handle_;
  bool busy_ = false;
};

}  // namespace fastmd::node
