// call_queue.cpp — per-method FIFOs under one lock, oldest runnable call first.
#include "call_queue.hpp"

#include <algorithm>

namespace fastmd::ipc::legacy {

bool CallQueue::push(Call call) {
  std::lock_guard lock(mutex_);
  call.arrival = arrivals_++;
  auto [it, added] = in_flight_.try_emplace(call.id, std::move(call));
  if (!added) return false;
  methods_[it->second.method].waiting.push_back(&it->second);
  ++queued_;
  return true;
}

Call* CallQueue::release(bool allow_inline) {
  std::unique_lock lock(mutex_);
  if (allow_inline && queued_ == 1 && running_ == 0) return start_next_locked();
  lock.unlock();
  work_.notify_all();
  return nullptr;
}

Call* CallQueue::start_next_locked() {
  MethodQueue* oldest = nullptr;
  for (auto& [method, queue] : methods_) {
    if (queue.waiting.empty() || queue.running >= method->concurrency) continue;
    if (!oldest || queue.waiting.front()->arrival < oldest->waiting.front()->arrival) {
      oldest = &queue;
    }
  }
  if (!oldest) return nullptr;
  Call* call = oldest->waiting.front();
  oldest->waiting.pop_front();
  ++oldest->running;
  --queued_;
  ++running_;
  return call;
}

Call* CallQueue::next() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (Call* call = start_next_locked()) return call;
    if (closed_ && queued_ == 0) return nullptr;
    work_.wait(lock);
  }
}

bool CallQueue::cancel(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return false;
  auto& waiting = methods_[it->second.method].waiting;
  auto queued = std::find(waiting.begin(), waiting.end(), &it->second);
  if (queued == waiting.end()) return false;  // running: it completes as usual
  waiting.erase(queued);
  --queued_;
  in_flight_.erase(it);
  changed_.notify_all();
  return true;
}

void CallQueue::finish(Call* call) {
  {
    std::lock_guard lock(mutex_);
    --methods_[call->method].running;
    --running_;
    in_flight_.erase(call->id);
  }
  // A slot of this method is free (a waiting call may start), and the reader may have room.
  work_.notify_one();
  changed_.notify_all();
}

bool CallQueue::has_queued() const {
  std::lock_guard lock(mutex_);
  return queued_ > 0;
}

void CallQueue::wait_for_room() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return in_flight_.size() < max_in_flight_; });
}

void CallQueue::wait_until_idle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return in_flight_.empty(); });
}

void CallQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  work_.notify_all();
}

}  // namespace fastmd::ipc::legacy
