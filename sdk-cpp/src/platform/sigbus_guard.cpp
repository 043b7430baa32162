// The SIGBUS guard over shared mappings (see sigbus_guard.hpp). Everything the handler reads
// is a lock-free atomic in blocks that are never freed; registering and releasing take a
// mutex (mappings are made per segment, not per call).
#include "sigbus_guard.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace fastmd::platform::sigbus_guard {

struct Range {
  std::atomic<bool> live{false};  // set last when registering, cleared first when releasing
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::size_t> size{0};
  std::atomic<bool> broken{false};
};

namespace {

static_assert(std::atomic<bool>::is_always_lock_free &&
                  std::atomic<std::uintptr_t>::is_always_lock_free &&
                  std::atomic<std::size_t>::is_always_lock_free,
              "the SIGBUS handler reads the registry with lock-free atomics only");

constexpr std::size_t kRangesPerBlock = 64;

struct Block {
  Range ranges[kRangesPerBlock];
  std::atomic<Block*> next{nullptr};
};

std::atomic<Block*> first_block{nullptr};
std::mutex registry_mutex;     // serialises guard() and release(); the handler never takes it
struct sigaction previous {};  // what was installed before ours, for faults not ours
std::once_flag installed;

Range* find(std::uintptr_t address) {
  for (Block* block = first_block.load(std::memory_order_acquire); block != nullptr;
       block = block->next.load(std::memory_order_acquire)) {
    for (Range& range : block->ranges) {
      if (!range.live.load(std::memory_order_acquire)) continue;
      const std::uintptr_t begin = range.begin.load(std::memory_order_relaxed);
      if (address >= begin && address - begin < range.size.load(std::memory_order_relaxed)) {
        return &range;
      }
    }
  }
  return nullptr;
}

// A fault that is not ours: hand it on as if we were not here.
void pass_on(int signal, siginfo_t* info, void* context) {
  if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction != nullptr) {
    previous.sa_sigaction(signal, info, context);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
      previous.sa_handler != nullptr) {
    previous.sa_handler(signal);
    return;
  }
  // The default action: put it back and return, so the faulting access runs again and the
  // kernel ends the process with SIGBUS, as without the guard (libwayland's reraise_sigbus).
  ::sigaction(SIGBUS, &previous, nullptr);
}

void on_sigbus(int signal, siginfo_t* info, void* context) {
  Range* range = find(reinterpret_cast<std::uintptr_t>(info->si_addr));
  if (range == nullptr) {
    pass_on(signal, info, context);
    return;
  }
  // Zero pages over the whole range: the access that faulted, and every later one, reads
  // zeros, which no header check accepts, and writes go nowhere.
  void* begin = reinterpret_cast<void*>(range->begin.load(std::memory_order_relaxed));
  void* replaced = ::mmap(begin, range->size.load(std::memory_order_relaxed),
                          PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANON, -1, 0);
  if (replaced == MAP_FAILED) {
    pass_on(signal, info, context);
    return;
  }
  range->broken.store(true, std::memory_order_release);
}

void install() {
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  // SA_NODEFER: a SIGBUS inside pass_on's previous handler is not held back.
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, &previous);
}

Range* free_range() {
  Block* last = nullptr;
  for (Block* block = first_block.load(std::memory_order_acquire); block != nullptr;
       block = block->next.load(std::memory_order_acquire)) {
    for (Range& range : block->ranges) {
      if (!range.live.load(std::memory_order_relaxed)) return &range;
    }
    last = block;
  }
  auto* fresh = new Block();  // kept for the process's lifetime: the handler may be reading
  (last == nullptr ? first_block : last->next).store(fresh, std::memory_order_release);
  return &fresh->ranges[0];
}

}  // namespace

Range* guard(std::byte* begin, std::size_t size) {
  std::call_once(installed, install);
  std::lock_guard lock(registry_mutex);
  Range* range = free_range();
  range->begin.store(reinterpret_cast<std::uintptr_t>(begin), std::memory_order_relaxed);
  range->size.store(size, std::memory_order_relaxed);
  range->broken.store(false, std::memory_order_relaxed);
  range->live.store(true, std::memory_order_release);
  return range;
}

void release(Range* range) {
  std::lock_guard lock(registry_mutex);
  range->live.store(false, std::memory_order_release);
}

bool broken(const Range* range) {
  return range->broken.load(std::memory_order_acquire);
}

}  // namespace fastmd::platform::sigbus_guard
