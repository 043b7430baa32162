// call_queue.hpp — where legacy requests wait for a handler thread. One FIFO per method;
// the oldest call whose method is below its concurrency runs next. Calls not yet started can
// be cancelled. The number of calls in flight (queued or running) paces the reader.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "fastmd/ipc/handler.hpp"
#include "line_reader.hpp"

namespace fastmd::ipc::legacy {

/// A request between its line and its response. Its params view its input chunk.
struct Call {
  std::uint64_t id = 0;
  const MethodTable::Entry* method = nullptr;
  proto::ByteView params;
  ChunkRef chunk;
  std::uint64_t arrival = 0;  // set by CallQueue::push: the oldest runnable call goes first
};

class CallQueue {
 public:
  explicit CallQueue(std::size_t max_in_flight) : max_in_flight_(max_in_flight) {}

  /// Queues a call without waking anyone (see release()). False when a call with the same id
  /// is still in flight.
  bool push(Call call);

  /// After a read's calls are pushed: when `allow_inline` and the queue holds exactly one call
  /// and nothing runs, that call is returned, started, for the caller to run itself (one
  /// thread hand-off less for a lone request); otherwise handler threads are woken, and nullptr.
  Call* release(bool allow_inline);

  /// Blocks until a call can start and returns it started; nullptr once closed and drained.
  Call* next();

  /// Removes call `id` if it has not started; true when it was removed (answer CANCELLED).
  bool cancel(std::uint64_t id);

  /// Ends a started call (after its response was sent).
  void finish(Call* call);

  /// True when calls wait that have not started.
  bool has_queued() const;

  /// Blocks while max_in_flight calls are in flight.
  void wait_for_room();

  /// Blocks until no call is in flight.
  void wait_until_idle();

  /// Lets next() return nullptr once nothing is queued.
  void close();

 private:
  struct MethodQueue {
    std::deque<Call*> waiting;
    std::uint32_t running = 0;
  };

  Call* start_next_locked();

  const std::size_t max_in_flight_;
  mutable std::mutex mutex_;
  std::condition_variable work_;     // a call may start, or closed
  std::condition_variable changed_;  // a call ended (room, idle)
  std::unordered_map<std::uint64_t, Call> in_flight_;
  std::unordered_map<const MethodTable::Entry*, MethodQueue> methods_;
  std::uint64_t arrivals_ = 0;
  std::size_t queued_ = 0;
  std::size_t running_ = 0;
  bool closed_ = false;
};

}  // namespace fastmd::ipc::legacy
