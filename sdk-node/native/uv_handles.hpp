// uv_handles.hpp — the addon's two libuv handles, each owned RAII-style:
//   PollWatcher: readiness of one fd (a control or direct channel), never keeps the loop alive;
//   LoopHold:    keeps the loop alive while something is in flight, so the process exits by
//                itself when nothing is.
// libuv frees a handle only after uv_close's callback, so both allocate their handle on the
// heap and let that callback delete it; an owner may be destroyed inside its own callback.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>

namespace fastmd::node {

class PollWatcher {
 public:
  /// `on_ready(status, events)`: status < 0 is a libuv error on the fd.
  using Callback = std::function<void(int status, int events)>;

  /// Watches `fd` for readability at once. The fd stays owned by the caller and must outlive
  /// this watcher (declare the fd's owner before the watcher).
  PollWatcher(uv_loop_t* loop, int fd, Callback on_ready);
  PollWatcher(const PollWatcher&) = delete;
  PollWatcher& operator=(const PollWatcher&) = delete;
  ~PollWatcher();

  /// Watches for writability too (a write was queued) or no longer (the queue drained).
  void want_writable(bool on);

 private:
  struct State;
  void apply();
  State* state_;
  bool writable_ = false;
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
