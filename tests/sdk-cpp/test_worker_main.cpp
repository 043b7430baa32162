// fastmd-test-worker — a worker for the SDK's integration tests, built on fastmd::ipc::Worker.
// Methods: echo (returns its params), pid (returns the worker's pid as text), sleep (params:
// milliseconds as text; sleeps, then returns them), fail (throws), big (params: a byte
// count as text; returns that many bytes of a known pattern, written with reserve()), and
// peak (params: milliseconds as text; sleeps, then returns the most handlers this process
// ever ran at once, as text).
//
//   fastmd-test-worker --socket PATH [--name NAME] [--threads N] [--spin-us N] [--ring-bytes N]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "fastmd/ipc/worker.hpp"

namespace {

fastmd::ipc::Worker* running_worker = nullptr;

void stop_on_signal(int) {
  if (running_worker) running_worker->request_stop();
}

std::uint64_t parse_number(fastmd::proto::ByteView params) {
  return std::stoull(std::string(fastmd::proto::as_chars(params)));
}

}  // namespace

int main(int argc, char** argv) {
  fastmd::ipc::WorkerOptions options;
  options.name = "test-worker";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--socket")
      options.socket_path = argv[i + 1];
    else if (flag == "--name")
      options.name = argv[i + 1];
    else if (flag == "--threads")
      options.threads = static_cast<unsigned>(std::stoul(argv[i + 1]));
    else if (flag == "--spin-us")
      options.spin_budget = std::chrono::microseconds(std::stoul(argv[i + 1]));
    else if (flag == "--ring-bytes")
      options.ring_bytes = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }

  using fastmd::ipc::ResultWriter;
  using fastmd::proto::ByteView;
  fastmd::ipc::MethodTable methods;
  methods.add(
      "echo",
      [](ByteView in, ResultWriter& out) {
        out.reserve(in.size());  // a large result is written once, into the segment
        out.append(in);
      },
      4);
  methods.add("pid", [](ByteView, ResultWriter& out) { out.append(std::to_string(::getpid())); });
  methods.add("sleep", [](ByteView in, ResultWriter& out) {
    std::this_thread::sleep_for(std::chrono::milliseconds(parse_number(in)));
    out.append(in);
  });
  methods.add("fail", [](ByteView, ResultWriter&) -> void {
    throw std::runtime_error("the fail method always fails");
  });
  methods.add("big", [](ByteView in, ResultWriter& out) {
    const std::uint64_t size = parse_number(in);
    out.reserve(size);
    std::string chunk(64 * 1024, '\0');
    for (std::uint64_t done = 0; done < size; done += chunk.size()) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - done));
      for (std::size_t i = 0; i < n; ++i) chunk[i] = static_cast<char>('a' + (done + i) % 26);
      out.append(std::string_view(chunk.data(), n));
    }
  });

  methods.add("peak", [](ByteView in, ResultWriter& out) {
    static std::atomic<unsigned> running{0}, most{0};
    const unsigned now = ++running;
    unsigned seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(parse_number(in)));
    --running;
    out.append(std::to_string(most.load()));
  });

  fastmd::ipc::Worker worker(std::move(methods), options);
  running_worker = &worker;
  std::signal(SIGTERM, stop_on_signal);
  std::signal(SIGINT, stop_on_signal);
  auto served = worker.run();
  running_worker = nullptr;
  if (!served) {
    std::cerr << "fastmd-test-worker: " << served.error().to_string() << "\n";
    return 1;
  }
  return 0;
}
