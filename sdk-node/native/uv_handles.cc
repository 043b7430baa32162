// libuv handles (see uv_handles.hpp).
#include "uv_handles.hpp"

#include <stdexcept>
#include <string>

namespace fastmd::node {

void check_uv(int status, const char* what) {
  if (status < 0) throw std::runtime_error(std::string(what) + ": " + uv_strerror(status));
}

struct LoopTimer::State {
  uv_timer_t handle;
  Callback on_due;
};

LoopTimer::LoopTimer(uv_loop_t* loop, Callback on_due) : state_(new State{{}, std::move(on_due)}) {
  uv_timer_init(loop, &state_->handle);  // cannot fail
  state_->handle.data = state_;
  uv_unref(reinterpret_cast<uv_handle_t*>(&state_->handle));
}

LoopTimer::~LoopTimer() {
  uv_timer_stop(&state_->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&state_->handle),
           [](uv_handle_t* handle) { delete static_cast<State*>(handle->data); });
}

void LoopTimer::arm(std::uint64_t delay_ms) {
  check_uv(
      uv_timer_start(
          &state_->handle, [](uv_timer_t* handle) { static_cast<State*>(handle->data)->on_due(); },
          delay_ms, 0),
      "uv_timer_start");
}

void LoopTimer::stop() {
  uv_timer_stop(&state_->handle);
}

struct LoopBeforeSleep::State {
  uv_prepare_t handle;
  Callback before_sleep;
};

LoopBeforeSleep::LoopBeforeSleep(uv_loop_t* loop, Callback before_sleep)
    : state_(new State{{}, std::move(before_sleep)}) {
  uv_prepare_init(loop, &state_->handle);  // cannot fail
  state_->handle.data = state_;
  // Cannot fail for an initialized handle with a callback.
  uv_prepare_start(&state_->handle,
                   [](uv_prepare_t* handle) { static_cast<State*>(handle->data)->before_sleep(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&state_->handle));
}

LoopBeforeSleep::~LoopBeforeSleep() {
  uv_prepare_stop(&state_->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&state_->handle),
           [](uv_handle_t* handle) { delete static_cast<State*>(handle->data); });
}

LoopHold::LoopHold(uv_loop_t* loop) : handle_(new uv_async_t{}) {
  // An async handle that is never sent: its only job is to be ref'd or not.
  const int status = uv_async_init(loop, handle_, nullptr);
  if (status < 0) {
    delete handle_;
    check_uv(status, "uv_async_init");
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
}

LoopHold::~LoopHold() {
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
}

void LoopHold::set_busy(bool busy) {
  if (busy == busy_) return;
  busy_ = busy;
  if (busy) {
    uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
  }
}

}  // namespace fastmd::node
