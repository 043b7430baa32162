// call_tally.hpp — counts the outcomes of many asynchronous calls of a C++ Client, each by its
// index, so a test can require that every call was answered exactly once (with its result or
// an error saying why), with a bounded wait for the last answer.
//
//     Tally tally(kCalls);
//     for (std::size_t i = 0; i < kCalls; ++i) client->call_async("echo", data, tally.recorder(i));
//     REQUIRE(tally.wait_all(60s));
//     CHECK(tally.each_answered_once());
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "fastmd/ipc/client.hpp"

namespace fastmd::test {

/// The outcomes of `calls` asynchronous calls, each recorded by its index.
class Tally {
 public:
  explicit Tally(std::size_t calls) : answers_(calls) {}

  fastmd::ipc::Callback recorder(std::size_t index) {
    return [this, index](ipc::CallResult result) {
      std::lock_guard lock(mutex_);
      ++answers_[index];
      if (result.ok()) {
        ++succeeded_;
      } else {
        ++failures_[result.error().code];
      }
      ++completed_;
      if (completed_ == answers_.size()) all_done_.notify_all();
    };
  }

  bool wait_all(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return all_done_.wait_for(lock, timeout, [&] { return completed_ == answers_.size(); });
  }

  bool each_answered_once() const {
    std::lock_guard lock(mutex_);
    for (int count : answers_) {
      if (count != 1) return false;
    }
    return true;
  }
  std::size_t succeeded() const {
    std::lock_guard lock(mutex_);
    return succeeded_;
  }
  std::size_t failed_with(proto::Errc code) const {
    std::lock_guard lock(mutex_);
    auto it = failures_.find(code);
    return it == failures_.end() ? 0 : it->second;
  }
  std::size_t failed() const {
    std::lock_guard lock(mutex_);
    std::size_t total = 0;
    for (const auto& [code, count] : failures_) total += count;
    return total;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable all_done_;
  std::vector<int> answers_;
  std::map<proto::Errc, std::size_t> failures_;
  std::size_t succeeded_ = 0;
  std::size_t completed_ = 0;
};

}  // namespace fastmd::test
