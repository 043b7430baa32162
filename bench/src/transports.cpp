// fastmd-bench-cpp — the C++ client's side of every transport, against the real daemon and
// workers: legacy NDJSON over a worker's stdio, MessagePack inline over the direct channel
// (shared memory off), and the fast path (inline below the threshold, shared memory above;
// small frames through the channel's rings, and, as "fast-socket", with rings off), each with
// and without adaptive spin on both sides. For each: sequential round-trip latency
// per payload size, pipelined small-message throughput, CPU time and minor faults per request
// of client and worker, and the Markdown job on one document. Then the daemon's RSS with 1
// and with 128 sessions.
//
//   fastmd-bench-cpp [--quick] [--bin-dir DIR] [--markdown FILE]
//   fastmd-bench-cpp --serve-inline --socket PATH [--spin-us N]   (the inline-only worker)
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "child.hpp"
#include "fastmd/ipc/client.hpp"
#include "fastmd/ipc/worker.hpp"
#include "fastmd/proto/ndjson.hpp"
#include "markdown.hpp"
#include "report.hpp"
#include "usage.hpp"

namespace {

using namespace fastmd;
using namespace fastmd::bench;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::size_t kSizes[] = {64, 1024, 64 * 1024, 1024 * 1024, 10 * 1024 * 1024};
constexpr std::size_t kThroughputBatch = 4096;
constexpr unsigned kSpinMicros = 200;

double elapsed_ns(Clock::time_point since) {
  return double(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count());
}

struct Budget {
  bool quick;
  std::size_t round_trips(std::size_t size) const {
    const std::size_t full = size <= 1024          ? 20'000
                             : size <= 64 * 1024   ? 5'000
                             : size <= 1024 * 1024 ? 300
                                                   : 40;
    return quick ? std::max<std::size_t>(full / 10, 10) : full;
  }
  std::size_t small_messages() const { return quick ? 50'000 : 500'000; }
  std::size_t transforms() const { return quick ? 50 : 500; }
};

// ASCII text (no quotes or backslashes): what a Markdown payload looks like to a transport,
// and carried verbatim by every path, JSON included.
std::string text_payload(std::size_t size) {
  static constexpr std::string_view kWords =
      "the quick brown fox jumps over the lazy dog 0123456789 ";
  std::string text;
  text.reserve(size);
  while (text.size() < size)
    text.append(kWords.substr(0, std::min(kWords.size(), size - text.size())));
  return text;
}

/// One way of reaching a worker, as the measurements see it.
class Target {
 public:
  virtual ~Target() = default;
  /// The worker process, whose CPU time and faults count with the client's.
  virtual pid_t worker_pid() const = 0;
  /// One round trip; returns the result's size (the result is read, not just received).
  virtual std::size_t call(std::string_view method, std::string_view payload) = 0;
  /// `count` calls with `payload`, all in flight together.
  virtual void call_many(std::string_view method, std::string_view payload, std::size_t count) = 0;
};

// ---- legacy: NDJSON over the stdio of `fastmd-worker-md --stdio` ------------------------

/// Reads '\n'-terminated lines from a pipe into one reused buffer.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  /// The next line, its '\n' replaced by '\0' (as the in-place Decoder wants).
  std::span<char> next() {
    for (;;) {
      if (const auto end = buffer_.find('\n', scanned_); end != std::string::npos) {
        std::span<char> line(buffer_.data() + start_, end - start_);
        buffer_[end] = '\0';
        start_ = scanned_ = end + 1;
        return line;
      }
      scanned_ = buffer_.size();
      fill();
    }
  }

 private:
  void fill() {
    if (start_ > 0) {
      buffer_.erase(0, start_);
      scanned_ -= start_;
      start_ = 0;
    }
    const std::size_t used = buffer_.size();
    const std::size_t room = std::max<std::size_t>(64 * 1024, used);
    buffer_.resize(used + room);
    const ssize_t n = ::read(fd_, buffer_.data() + used, room);
    buffer_.resize(used + std::size_t(std::max<ssize_t>(n, 0)));
    if (n <= 0) throw std::runtime_error("the legacy worker closed its stdout");
  }

  int fd_;
  std::string buffer_;
  std::size_t start_ = 0, scanned_ = 0;
};

class LegacyTarget final : public Target {
 public:
  explicit LegacyTarget(const fs::path& bin_dir)
      : worker_(Child::spawn({(bin_dir / "fastmd-worker-md").string(), "--stdio"}, true)),
        reader_(worker_.from_child()) {
    if (!worker_.running()) throw std::runtime_error("cannot start fastmd-worker-md --stdio");
  }

  pid_t worker_pid() const override { return worker_.pid(); }

  std::size_t call(std::string_view method, std::string_view payload) override {
    send(method, payload);
    return receive();
  }

  void call_many(std::string_view method, std::string_view payload, std::size_t count) override {
    // Pipelined: a writer runs ahead while this thread reads the answers.
    std::jthread writer([&] {
      for (std::size_t i = 0; i < count; ++i) send(method, payload);
    });
    for (std::size_t i = 0; i < count; ++i) receive();
  }

 private:
  void send(std::string_view method, std::string_view payload) {
    line_.Clear();
    encoder_.append_line(proto::Message::request(++next_id_, method, proto::as_bytes(payload)),
                         line_);
    const char* data = line_.GetString();
    std::size_t left = line_.GetSize();
    while (left > 0) {
      const ssize_t n = ::write(worker_.to_child(), data, left);
      if (n <= 0) throw std::runtime_error("the legacy worker closed its stdin");
      data += n;
      left -= std::size_t(n);
    }
  }

  std::size_t receive() {
    auto message = decoder_.decode(reader_.next());
    if (!message) throw std::runtime_error("legacy answer: " + message.error().to_string());
    if (message->error)
      throw std::runtime_error("legacy worker: " + std::string(message->error->message));
    return message->payload.size();
  }

  Child worker_;
  LineReader reader_;
  proto::ndjson::Encoder encoder_;  // used by one sending thread at a time
  proto::ndjson::LineBuffer line_;
  proto::ndjson::Decoder decoder_;
  std::uint64_t next_id_ = 0;
};

// ---- the fast path: fastmd::ipc::Client through a private fastmd-ipcd --------------------

class FastTarget final : public Target {
 public:
  FastTarget(Child worker, const std::string& socket, std::size_t inline_threshold,
             std::optional<std::chrono::microseconds> spin = std::nullopt,
             std::uint32_t ring_bytes = ipc::policy::kRingBytes)
      : worker_(std::move(worker)) {
    auto client = ipc::Client::connect({.socket_path = socket,
                                        .name = "fastmd-bench",
                                        .inline_threshold = inline_threshold,
                                        .spin_budget = spin,
                                        .ring_bytes = ring_bytes});
    if (!client) throw std::runtime_error("client: " + client.error().to_string());
    client_ = std::move(*client);
    if (!client_->wait_for_workers(1, std::chrono::seconds(5))) {
      throw std::runtime_error("no worker was introduced within 5 s");
    }
  }

  pid_t worker_pid() const override { return worker_.pid(); }

  std::size_t call(std::string_view method, std::string_view payload) override {
    auto reply = client_->call(method, proto::as_bytes(payload));
    if (!reply) throw std::runtime_error("fast call: " + reply.error().to_string());
    return reply->size();
  }

  void call_many(std::string_view method, std::string_view payload, std::size_t count) override {
    const std::vector<proto::ByteView> params(count, proto::as_bytes(payload));
    for (auto& reply : client_->call_many(method, params)) {
      if (!reply) throw std::runtime_error("fast call_many: " + reply.error().to_string());
    }
  }

 private:
  Child worker_;  // outlives nothing: the client is destroyed first (declared after)
  std::unique_ptr<ipc::Client> client_;
};

// ---- the measurements --------------------------------------------------------------------

struct Measured {
  double total_ns = 0;
  Usage client, worker;
};

template <typename Body>
Measured measure(const Target& target, Body&& body) {
  const Usage client_before = self_usage(), worker_before = process_usage(target.worker_pid());
  const auto start = Clock::now();
  body();
  Measured m;
  m.total_ns = elapsed_ns(start);
  m.client = self_usage() - client_before;
  m.worker = process_usage(target.worker_pid()) - worker_before;
  return m;
}

void add_costs(Row& row, const Measured& m, double requests) {
  row.cpu_us_per_req = (m.client.cpu_us + m.worker.cpu_us) / requests;
  row.client_cpu_us_per_req = m.client.cpu_us / requests;
  row.worker_cpu_us_per_req = m.worker.cpu_us / requests;
  row.minflt_per_req = (m.client.minflt + m.worker.minflt) / requests;
}

void latency_series(Target& target, const std::string& transport, std::string_view method,
                    std::string_view payload, std::size_t iterations) {
  for (std::size_t i = 0; i < std::min<std::size_t>(iterations / 10 + 1, 100); ++i) {
    target.call(method, payload);
  }
  std::vector<double> samples;
  samples.reserve(iterations);
  const Measured m = measure(target, [&] {
    for (std::size_t i = 0; i < iterations; ++i) {
      const auto start = Clock::now();
      target.call(method, payload);
      samples.push_back(elapsed_ns(start));
    }
  });
  Row row{.transport = transport, .method = std::string(method), .payload_bytes = payload.size()};
  row.latency = percentiles(samples);
  row.msgs_per_s = double(iterations) / (m.total_ns / 1e9);
  if (payload.size() >= 64 * 1024)
    row.gb_per_s = double(payload.size()) / (row.latency->p50_us * 1e3);
  row.iterations = iterations;
  add_costs(row, m, double(iterations));
  emit(row);
}

void throughput_series(Target& target, const std::string& transport, std::size_t count) {
  const std::string payload = text_payload(64);
  target.call_many("echo", payload, std::min(count, kThroughputBatch));  // warm-up
  const Measured m = measure(target, [&] {
    for (std::size_t done = 0; done < count; done += kThroughputBatch) {
      target.call_many("echo", payload, std::min(kThroughputBatch, count - done));
    }
  });
  Row row{.transport = transport, .method = "echo", .payload_bytes = 64};
  row.msgs_per_s = double(count) / (m.total_ns / 1e9);
  row.iterations = count;
  row.note = "pipelined, batches of 4096 in flight";
  add_costs(row, m, double(count));
  emit(row);
}

void run_target(Target& target, const std::string& transport, const Budget& budget,
                const std::string& markdown) {
  for (std::size_t size : kSizes) {
    progress("cpp {}: echo {} B", transport, size);
    latency_series(target, transport, "echo", text_payload(size), budget.round_trips(size));
  }
  const std::size_t transfer = kSizes[std::size(kSizes) - 1];
  progress("cpp {}: one-way transfer of {} B (length)", transport, transfer);
  latency_series(target, transport, "length", text_payload(transfer), budget.round_trips(transfer));
  progress("cpp {}: pipelined 64 B", transport);
  throughput_series(target, transport, budget.small_messages());
  if (!markdown.empty()) {
    progress("cpp {}: transform ({} B of Markdown)", transport, markdown.size());
    latency_series(target, transport, "transform", markdown, budget.transforms());
  }
}

fs::path self_path() {
  return fs::read_symlink("/proc/self/exe");
}

/// A private fastmd-ipcd on a socket in a fresh temporary directory, removed afterwards.
class PrivateDaemon {
 public:
  PrivateDaemon(const fs::path& bin_dir, std::vector<std::string> options) {
    char pattern[] = "/tmp/fastmd-bench-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    socket_ = (dir_ / "ipcd.sock").string();
    std::vector<std::string> argv = {(bin_dir / "fastmd-ipcd").string(), "--socket", socket_,
                                     "--log-level", "warn"};
    argv.insert(argv.end(), options.begin(), options.end());
    daemon_ = Child::spawn(argv);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!fs::exists(socket_)) {
      if (Clock::now() > deadline)
        throw std::runtime_error("fastmd-ipcd did not listen within 5 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~PrivateDaemon() {
    daemon_.stop();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  PrivateDaemon(const PrivateDaemon&) = delete;
  PrivateDaemon& operator=(const PrivateDaemon&) = delete;

  const std::string& socket() const { return socket_; }
  pid_t pid() const { return daemon_.pid(); }

 private:
  fs::path dir_;
  std::string socket_;
  Child daemon_;
};

void daemon_memory(const fs::path& bin_dir) {
  progress("cpp: daemon RSS with 1 and 128 sessions");
  PrivateDaemon daemon(bin_dir, {});
  std::vector<std::unique_ptr<ipc::Client>> clients;
  const auto report = [&](std::size_t sessions) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    emit({.transport = "daemon",
          .daemon_rss_kib = rss_kib(daemon.pid()),
          .sessions = sessions,
          .note = "fastmd-ipcd RSS with this many client sessions connected (default pool)"});
  };
  while (clients.size() < 128) {
    auto client =
        ipc::Client::connect({.socket_path = daemon.socket(), .name = "fastmd-bench-rss"});
    if (!client)
      throw std::runtime_error("session " + std::to_string(clients.size()) + ": " +
                               client.error().to_string());
    clients.push_back(std::move(*client));
    if (clients.size() == 1) report(1);
  }
  report(128);
}

// The fast rows' daemon: its segments hold a 10 MiB payload, so the rows show shared memory,
// not one-off memfds.
std::vector<std::string> fast_daemon_options() {
  return {"--pool-size-mib", "128", "--segment-size-kib", "32768"};
}

// Only the fast transport's echo of 1 and 10 MiB, which bench/node/large-echo.js sets beside
// the Node client's rows of the same run.
void large_echo_rows(const fs::path& bin_dir, const Budget& budget) {
  PrivateDaemon daemon(bin_dir, fast_daemon_options());
  FastTarget target(
      Child::spawn({(bin_dir / "fastmd-worker-md").string(), "--socket", daemon.socket()}),
      daemon.socket(), proto::kDefaultInlineThreshold);
  for (std::size_t size : {std::size_t{1024 * 1024}, std::size_t{10 * 1024 * 1024}}) {
    progress("cpp fast: echo {} B", size);
    latency_series(target, "fast", "echo", text_payload(size), budget.round_trips(size));
  }
}

int serve_inline(const std::string& socket, std::optional<std::chrono::microseconds> spin) {
  ipc::Worker worker(examples::markdown_methods(1),
                     {.socket_path = socket,
                      .name = "fastmd-bench-inline",
                      .spin_budget = spin,
                      .inline_threshold = proto::kDefaultMaxDataFrame - 64 * 1024});
  const auto served = worker.run();
  return served ? 0 : 1;
}

std::string read_file(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fastmd-bench-cpp: the C++ client over every transport (rows as JSON lines)"};
  bool quick = false, serve = false, large_echo = false;
  std::string bin_dir = self_path().parent_path().string(), markdown_path, socket;
  unsigned spin_us = 0;
  app.add_flag("--quick", quick, "fewer iterations (a check that everything runs)");
  app.add_option("--bin-dir", bin_dir, "where fastmd-ipcd and fastmd-worker-md are");
  app.add_option("--markdown", markdown_path, "a Markdown document for the transform rows");
  app.add_flag("--large-echo", large_echo,
               "only the fast transport's echo of 1 and 10 MiB (bench/node/large-echo.js)");
  app.add_flag("--serve-inline", serve,
               "run as the inline-only worker (used by the benchmark itself)");
  app.add_option("--socket", socket, "--serve-inline: the daemon's socket");
  const CLI::Option* spin_option = app.add_option(
      "--spin-us", spin_us, "--serve-inline: the worker's spin budget (default: adaptive)");
  CLI11_PARSE(app, argc, argv);
  if (serve) {
    return serve_inline(socket, spin_option->count() > 0
                                    ? std::optional(std::chrono::microseconds(spin_us))
                                    : std::nullopt);
  }

  const Budget budget{quick};
  const std::string markdown = read_file(markdown_path);
  try {
    if (large_echo) {
      large_echo_rows(bin_dir, budget);
      return 0;
    }
    {
      LegacyTarget legacy(bin_dir);
      run_target(legacy, "legacy", budget, markdown);
    }
    PrivateDaemon daemon(bin_dir, fast_daemon_options());
    const std::string spin = std::to_string(kSpinMicros);
    const std::string worker_md = (fs::path(bin_dir) / "fastmd-worker-md").string();
    const std::string inline_worker = self_path().string();
    const std::size_t all_inline = proto::kDefaultMaxDataFrame - 64 * 1024;
    // No suffix: the defaults (adaptive spin on both sides); "-spin": both sides spin up to
    // kSpinMicros every wait (the worker's rounds, the client's synchronous calls);
    // "-nospin": neither spins; "fast-socket": rings off on both sides, the socket frames
    // every peer still speaks.
    struct Variant {
      std::string transport;
      std::vector<std::string> worker;
      std::size_t inline_threshold;
      std::optional<std::chrono::microseconds> client_spin;
      std::uint32_t client_ring_bytes = ipc::policy::kRingBytes;
    };
    const std::chrono::microseconds spinning(kSpinMicros);
    const std::chrono::microseconds no_spin(0);
    const std::size_t threshold = proto::kDefaultInlineThreshold;
    const Variant variants[] = {
        {"inline", {inline_worker, "--serve-inline", "--socket", daemon.socket()}, all_inline},
        {"inline-spin",
         {inline_worker, "--serve-inline", "--socket", daemon.socket(), "--spin-us", spin},
         all_inline,
         spinning},
        {"fast", {worker_md, "--socket", daemon.socket()}, threshold},
        {"fast-nospin",
         {worker_md, "--socket", daemon.socket(), "--spin-us", "0"},
         threshold,
         no_spin},
        {"fast-spin",
         {worker_md, "--socket", daemon.socket(), "--spin-us", spin},
         threshold,
         spinning},
        {"fast-socket",
         {worker_md, "--socket", daemon.socket(), "--ring-kib", "0"},
         threshold,
         std::nullopt,
         0},
        {"fast-socket-spin",
         {worker_md, "--socket", daemon.socket(), "--spin-us", spin, "--ring-kib", "0"},
         threshold,
         spinning,
         0},
    };
    for (const Variant& variant : variants) {
      FastTarget target(Child::spawn(variant.worker), daemon.socket(), variant.inline_threshold,
                        variant.client_spin, variant.client_ring_bytes);
      run_target(target, variant.transport, budget, markdown);
    }
  } catch (const std::exception& e) {
    progress("fastmd-bench-cpp: {}", e.what());
    return 1;
  }
  try {
    daemon_memory(bin_dir);
  } catch (const std::exception& e) {
    progress("fastmd-bench-cpp: daemon memory: {}", e.what());
    return 1;
  }
  return 0;
}
