// fastmd-bench-floors — what this machine can do at best, measured in the same run as the
// transports so every transport figure reads as a ratio to it: memcpy bandwidth into mapped
// and into fresh pages, the cost of one page fault, a blocking socketpair ping-pong between
// two processes, and a shared-memory spin ping-pong (on two cores, and on one). memcpy is
// measured warm (in cache) and cold (targets rotating beyond the last-level cache).
//
//   fastmd-bench-floors [--quick]     rows as JSON lines on stdout, progress on stderr
#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "report.hpp"
#include "usage.hpp"

namespace {

using namespace fastmd::bench;
using Clock = std::chrono::steady_clock;

double elapsed_ns(Clock::time_point since) {
  return double(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count());
}

struct Budget {
  int memcpy_rounds;
  int fresh_rounds;
  int pingpong_iterations;
  int spin_iterations;
  std::chrono::milliseconds shared_core_limit;
};

// A buffer whose pages are not touched when it is made: with the mmap threshold lowered in
// main(), each one is a fresh anonymous mapping, so the first write faults every page.
std::unique_ptr<std::byte[]> untouched(std::size_t size) {
  return std::unique_ptr<std::byte[]>(new std::byte[size]);
}

// memcpy of `size` bytes. Warm: the same source and target every round, so a 10 MiB copy
// (20 MiB touched) stays in a 32 MiB last-level cache. Cold: the target rotates through
// kColdTargets buffers, as the blocks of a shared-memory segment do, so each copy reaches
// memory that left the cache since its last use.
void memcpy_floor(std::size_t size, bool cold, const Budget& budget) {
  constexpr std::size_t kColdTargets = 6;
  auto source = untouched(size);
  std::memset(source.get(), 'a', size);
  std::vector<std::unique_ptr<std::byte[]>> targets;
  for (std::size_t i = 0; i < (cold ? kColdTargets : 1); ++i) {
    targets.push_back(untouched(size));
    std::memset(targets.back().get(), 0, size);
  }
  std::vector<double> samples;
  for (int round = 0; round < budget.memcpy_rounds; ++round) {
    std::byte* target = targets[std::size_t(round) % targets.size()].get();
    const auto start = Clock::now();
    std::memcpy(target, source.get(), size);
    samples.push_back(elapsed_ns(start));
  }
  const Percentiles p = percentiles(samples);
  emit({.transport = cold ? "floor-memcpy-cold" : "floor-memcpy",
        .payload_bytes = size,
        .latency = p,
        .gb_per_s = double(size) / (p.p50_us * 1e3),
        .iterations = std::uint64_t(budget.memcpy_rounds),
        .note = cold ? "memcpy into already-mapped memory, the target rotating through 6 buffers "
                       "(more than the last-level cache holds)"
                     : "memcpy into already-mapped memory (the same target every round)"});
}

void fresh_pages_floor(std::size_t size, const Budget& budget) {
  auto source = untouched(size);
  std::memset(source.get(), 'a', size);
  std::vector<double> samples;
  const Usage before = self_usage();
  for (int round = 0; round < budget.fresh_rounds; ++round) {
    auto target = untouched(size);
    const auto start = Clock::now();
    std::memcpy(target.get(), source.get(), size);
    samples.push_back(elapsed_ns(start));
  }
  const Usage used = self_usage() - before;
  const Percentiles p = percentiles(samples);
  const double pages = double(size) / double(::sysconf(_SC_PAGESIZE));
  const double faults = used.minflt / budget.fresh_rounds;
  emit({.transport = "floor-memcpy-fresh",
        .payload_bytes = size,
        .latency = p,
        .gb_per_s = double(size) / (p.p50_us * 1e3),
        .minflt_per_req = faults,
        .iterations = std::uint64_t(budget.fresh_rounds),
        .note = "memcpy into freshly mapped pages (first touch faults each page)"});
  // The page-fault cost: the fresh copy's median time per page faulted in (the copy itself
  // is ~50x cheaper, see the warm rows, so this is nearly all fault and zeroing).
  emit({.transport = "floor-page-fault",
        .payload_bytes = std::uint64_t(::sysconf(_SC_PAGESIZE)),
        .minflt_per_req = faults / pages,
        .us_per_fault = p.p50_us / std::max(1.0, faults),
        .iterations = std::uint64_t(budget.fresh_rounds),
        .note = "first-touch fault of one 4 KiB page, incl. zeroing (median copy time / faults)"});
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

void unpin() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &all);
  ::sched_setaffinity(0, sizeof all, &all);
}

// Waits for a forked child and returns its CPU time and faults (RUSAGE_CHILDREN grows by it).
Usage reap(pid_t child) {
  rusage ru{};
  int status = 0;
  ::wait4(child, &status, 0, &ru);
  const auto us = [](const timeval& t) { return double(t.tv_sec) * 1e6 + double(t.tv_usec); };
  return {us(ru.ru_utime) + us(ru.ru_stime), double(ru.ru_minflt)};
}

// Emits a ping-pong floor's row: latency, rate and the CPU of both processes per round trip.
void emit_pingpong(const char* transport, std::uint64_t payload_bytes, std::vector<double>& samples,
                   double total_ns, const Usage& client, const Usage& worker, const char* note) {
  const double n = double(samples.size());
  emit({.transport = transport,
        .method = "pingpong",
        .payload_bytes = payload_bytes,
        .latency = percentiles(samples),
        .msgs_per_s = n / (total_ns / 1e9),
        .cpu_us_per_req = (client.cpu_us + worker.cpu_us) / n,
        .client_cpu_us_per_req = client.cpu_us / n,
        .worker_cpu_us_per_req = worker.cpu_us / n,
        .iterations = std::uint64_t(n),
        .note = note});
}

bool transfer(int fd, std::byte* bytes, std::size_t size, bool write) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n =
        write ? ::write(fd, bytes + done, size - done) : ::read(fd, bytes + done, size - done);
    if (n <= 0) return false;
    done += std::size_t(n);
  }
  return true;
}

void socketpair_floor(const Budget& budget) {
  constexpr std::size_t kSize = 64;
  auto pair = fastmd::platform::make_socketpair();
  if (!pair) {
    progress("socketpair: {}", pair.error().to_string());
    return;
  }
  auto [mine, theirs] = std::move(*pair);
  const pid_t child = ::fork();
  if (child == 0) {
    mine.reset();
    std::byte message[kSize];
    while (transfer(theirs.get(), message, kSize, false) &&
           transfer(theirs.get(), message, kSize, true)) {
    }
    ::_exit(0);
  }
  theirs.reset();
  std::byte message[kSize] = {};
  std::vector<double> samples;
  samples.reserve(std::size_t(budget.pingpong_iterations));
  const Usage before = self_usage();
  const auto series = Clock::now();
  for (int i = 0; i < budget.pingpong_iterations; ++i) {
    const auto start = Clock::now();
    transfer(mine.get(), message, kSize, true);
    transfer(mine.get(), message, kSize, false);
    samples.push_back(elapsed_ns(start));
  }
  const double total_ns = elapsed_ns(series);
  const Usage client = self_usage() - before;
  mine.reset();
  const Usage worker = reap(child);
  emit_pingpong("floor-socketpair", kSize, samples, total_ns, client, worker,
                "blocking write/read of 64 B between two processes (two wake-ups)");
}

// Two counters in shared memory, each on its own cache line: the client bumps `ping`, the
// other process answers by copying it to `pong`.
struct alignas(64) SpinLine {
  std::atomic<std::uint64_t> value{0};
};
struct SpinPair {
  SpinLine ping, pong;
};

void spin_floor(bool same_core, const Budget& budget) {
  auto fd = fastmd::platform::create_memfd("fastmd-bench-spin", sizeof(SpinPair));
  if (!fd) return progress("spin: {}", fd.error().to_string());
  auto mapping = fastmd::platform::Mapping::map(fd->get(), sizeof(SpinPair), true);
  if (!mapping) return progress("spin: {}", mapping.error().to_string());
  auto* lines = new (mapping->data()) SpinPair;
  const int other_cpu = same_core ? 0 : 1;
  const pid_t child = ::fork();
  if (child == 0) {
    pin_to_cpu(other_cpu);
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t now;
      while ((now = lines->ping.value.load(std::memory_order_acquire)) == seen) {
      }
      if (now == ~std::uint64_t{0}) ::_exit(0);
      seen = now;
      lines->pong.value.store(now, std::memory_order_release);
    }
  }
  pin_to_cpu(0);
  // Two spinners on one core only progress when the scheduler preempts one: a round trip
  // costs a time slice, so that series is cut short by a time limit.
  const int iterations = same_core ? budget.pingpong_iterations : budget.spin_iterations;
  const auto deadline =
      Clock::now() + (same_core ? budget.shared_core_limit : std::chrono::hours(1));
  std::vector<double> samples;
  samples.reserve(std::size_t(iterations));
  const Usage before = self_usage();
  const auto series = Clock::now();
  for (std::uint64_t i = 1; i <= std::uint64_t(iterations) && Clock::now() < deadline; ++i) {
    const auto start = Clock::now();
    lines->ping.value.store(i, std::memory_order_release);
    while (lines->pong.value.load(std::memory_order_acquire) != i) {
    }
    samples.push_back(elapsed_ns(start));
  }
  const double total_ns = elapsed_ns(series);
  const Usage client = self_usage() - before;
  lines->ping.value.store(~std::uint64_t{0}, std::memory_order_release);
  const Usage worker = reap(child);
  unpin();
  emit_pingpong(same_core ? "floor-shm-spin-1core" : "floor-shm-spin", 8, samples, total_ns, client,
                worker,
                same_core ? "both processes spinning on shared memory, pinned to the same core"
                          : "both processes spinning on shared memory, on different cores");
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const Budget budget = quick ? Budget{20, 5, 5'000, 20'000, std::chrono::milliseconds(200)}
                              : Budget{200, 30, 50'000, 200'000, std::chrono::milliseconds(1000)};
  // Every buffer above 64 KiB is its own mapping, returned on free: "fresh pages" stay fresh.
  ::mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  progress("floors: memcpy");
  for (std::size_t size : {std::size_t{64} << 10, std::size_t{1} << 20, std::size_t{10} << 20}) {
    memcpy_floor(size, false, budget);
  }
  memcpy_floor(std::size_t{10} << 20, true, budget);
  progress("floors: memcpy into fresh pages");
  fresh_pages_floor(std::size_t{10} << 20, budget);
  progress("floors: socketpair ping-pong");
  socketpair_floor(budget);
  progress("floors: shared-memory spin ping-pong, two cores");
  spin_floor(false, budget);
  progress("floors: shared-memory spin ping-pong, one core");
  spin_floor(true, budget);
  return 0;
}
