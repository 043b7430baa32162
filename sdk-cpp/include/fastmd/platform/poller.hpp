// fastmd/platform/poller.hpp — the one wait of an event loop: a set of fds, each watched for
// input, output or both and named by a tag the waiter gets back, plus a wake-up any thread can
// send. Level-triggered, like poll(): an fd stays ready until what it has is taken. Any thread
// may change the set while another waits in it. Linux keeps the set in the kernel (epoll, with
// an eventfd for wake-ups), as macOS and FreeBSD do (kqueue, with a pipe); portable POSIX keeps
// it in the process and poll()s a copy, woken to take a change that adds interest, and makes
// fd() (one fd for an outer event loop to watch) from a pipe that a relay thread signals
// (docs/platforms.md).
//
//     auto poller = fastmd::platform::Poller::open().value();
//     poller.change(socket_fd, &channel, {}, {.input = true});
//     std::array<fastmd::platform::Poller::Ready, 64> ready;
//     const int n = poller.wait(ready, 1000);   // from another thread: poller.wake()
//     for (int i = 0; i < n; ++i) {
//       if (ready[i].tag) handle(static_cast<Channel*>(ready[i].tag));   // null: a wake-up
//     }
#pragma once

#include <memory>
#include <span>

#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// What an fd is watched for. Both false: not watched.
struct Interest {
  bool input = false;
  bool output = false;
  bool operator==(const Interest&) const = default;
  bool any() const { return input || output; }
};

/// The set of fds an event loop waits on, and the wait. Poller is the platform's; an outer
/// event loop may implement its own (the Node addon watches each fd with libuv, so a ready
/// socket wakes its loop directly, not through a second set). The Endpoint waits on either.
class PollSet {
 public:
  /// An fd that is ready, with the tag it was watched with. A hang-up or an error counts as
  /// input: the read that follows sees the EOF or the error. A null tag is a wake-up. An fd
  /// ready for input and output may come as one entry or two (kqueue has a filter for each).
  struct Ready {
    void* tag = nullptr;
    bool input = false;
    bool output = false;
  };

  virtual ~PollSet() = default;
  PollSet(const PollSet&) = delete;
  PollSet& operator=(const PollSet&) = delete;

  /// Watches `fd` for `to` instead of `from`, what the caller last set for it (`{}` when it
  /// was not watched; `to` `{}` stops watching it). The caller keeps the fd open while it is
  /// watched. Any thread, also while another waits: an fd added for input or output reaches a
  /// wait in progress (epoll: that wait reports it; poll(): that wait returns with a wake-up and
  /// the next one has it); one removed may still be reported once (look the tag up, never
  /// trust it blindly).
  virtual void change(int fd, void* tag, Interest from, Interest to) = 0;

  /// Waits up to `timeout_ms` (-1: no limit, 0: not at all) for ready fds and fills `ready`
  /// with up to its size of them; the rest are reported by the next wait. Wake-ups since the
  /// last wait are consumed and reported as one entry with a null tag (anywhere among the
  /// entries; poll() puts it first, epoll and kqueue where it fell), so a waiter that spins
  /// on wait(0) knows to run its round. Returns how many entries, 0 when the time ran
  /// out, -1 on an error other than EINTR. One thread at a time; `ready` holds at least one.
  virtual int wait(std::span<Ready> ready, int timeout_ms) = 0;

  /// Ends a wait in progress, or the next one, at once. Any thread; async-signal-safe.
  virtual void wake() = 0;

  /// For an outer event loop (poll, libuv): readable whenever wait() would report an fd or a
  /// wake-up. The loop then calls wait() (with timeout 0) to take them. -1 for a set that an
  /// outer loop keeps itself.
  virtual int fd() const = 0;

 protected:
  PollSet() = default;
  PollSet(PollSet&&) = default;
  PollSet& operator=(PollSet&&) = default;
};

/// The platform's PollSet.
class Poller final : public PollSet {
 public:
  /// Opens an empty set. IO_ERROR naming the call that failed (out of fds).
  static proto::Result<Poller> open();

  Poller(Poller&&) noexcept;
  Poller& operator=(Poller&&) noexcept;
  ~Poller() override;

  void change(int fd, void* tag, Interest from, Interest to) override;
  int wait(std::span<Ready> ready, int timeout_ms) override;
  void wake() override;
  int fd() const override;

 private:
  struct State;
  explicit Poller(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace fastmd::platform
