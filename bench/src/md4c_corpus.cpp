// fastmd-bench-md4c — the Markdown job's own floor: md4c-html called in process from C++ on
// the corpus bench/run gathers, through the same examples::markdown_to_html() that
// fastmd-worker-md's `transform` calls, on 1…N threads taking the files from one shared queue.
// No transport and no copy but md4c's own output, so the corpus rows of every transport read
// as a ratio to it (issue 13: one fast worker ≥ 85% of the one-thread row).
//
//   fastmd-bench-md4c --files-from LIST [--max-threads N] [--min-seconds S] [--quick]
//
// LIST names one Markdown file per line. Rows as JSON lines on stdout, progress on stderr.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "markdown.hpp"
#include "report.hpp"
#include "usage.hpp"

namespace {

using namespace fastmd;
using namespace fastmd::bench;
using Clock = std::chrono::steady_clock;

struct Corpus {
  std::vector<std::string> files;
  std::uint64_t bytes = 0;
};

Corpus read_corpus(const std::string& list_path) {
  std::ifstream list(list_path);
  if (!list) throw std::runtime_error("cannot read the file list " + list_path);
  Corpus corpus;
  for (std::string path; std::getline(list, path);) {
    if (path.empty()) continue;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read the corpus file " + path);
    corpus.files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    corpus.bytes += corpus.files.back().size();
  }
  if (corpus.files.empty()) throw std::runtime_error("the file list " + list_path + " is empty");
  return corpus;
}

/// Renders `rounds` passes over the corpus on `threads` threads, each taking the next file
/// from one shared counter (every file in flight at once, as the transports' corpus rows send
/// them) into its own reused output string. Returns the HTML bytes produced.
std::uint64_t render_rounds(const Corpus& corpus, unsigned threads, std::uint64_t rounds) {
  const std::uint64_t tasks = rounds * corpus.files.size();
  std::atomic<std::uint64_t> next{0}, html_bytes{0};
  std::exception_ptr failure;
  std::mutex failure_lock;
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        std::string html;
        std::uint64_t produced = 0;
        try {
          for (std::uint64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
            html.clear();
            examples::markdown_to_html(corpus.files[i % corpus.files.size()], html);
            produced += html.size();
          }
        } catch (...) {
          const std::lock_guard lock(failure_lock);
          failure = std::current_exception();
        }
        html_bytes.fetch_add(produced, std::memory_order_relaxed);
      });
    }
  }
  if (failure) std::rethrow_exception(failure);
  return html_bytes.load();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// One row: a warm-up round (allocators, caches) that also sizes the series to last at least
/// `min_seconds`, then the series, timed as a whole.
void corpus_row(const Corpus& corpus, unsigned threads, double min_seconds) {
  const auto warm = Clock::now();
  render_rounds(corpus, threads, 1);
  const double round_s = std::max(seconds_since(warm), 1e-6);
  const auto rounds = std::uint64_t(std::clamp(std::ceil(min_seconds / round_s), 3.0, 100'000.0));

  const Usage before = self_usage();
  const auto start = Clock::now();
  const std::uint64_t html = render_rounds(corpus, threads, rounds);
  const double total_s = seconds_since(start);
  const Usage used = self_usage() - before;

  const double files = double(rounds * corpus.files.size());
  Row row{.transport = "md4c", .method = "transform", .payload_bytes = corpus.bytes};
  row.workers = threads;
  row.files_per_s = files / total_s;
  row.mb_per_s = double(rounds * corpus.bytes) / 1e6 / total_s;
  row.gb_per_s = double(rounds * corpus.bytes) / 1e9 / total_s;
  row.iterations = std::uint64_t(files);
  row.cpu_us_per_req = used.cpu_us / files;
  row.client_cpu_us_per_req = used.cpu_us / files;  // all of it in process, as in Node's rows
  row.worker_cpu_us_per_req = 0;
  row.minflt_per_req = used.minflt / files;
  row.note = fmt::format(
      "md4c-html in process, {} thread(s), no transport; Markdown corpus: {} files, {} bytes "
      "({} bytes of HTML per round)",
      threads, corpus.files.size(), corpus.bytes, html / rounds);
  emit(row);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fastmd-bench-md4c: md4c-html in process from C++ on a Markdown corpus, on 1..N threads "
      "(the Markdown job's floor; rows as JSON lines on stdout)"};
  std::string files_from;
  unsigned max_threads = std::max(1u, std::thread::hardware_concurrency());
  double min_seconds = 1.0;
  bool quick = false;
  app.add_option("--files-from", files_from, "a file naming one Markdown file per line")
      ->required();
  app.add_option("--max-threads", max_threads, "rows for 1..N threads (default: the cores)")
      ->check(CLI::Range(1u, 1024u));
  auto* min_seconds_option =
      app.add_option("--min-seconds", min_seconds, "each row renders for at least this long")
          ->check(CLI::PositiveNumber);
  app.add_flag("--quick", quick, "rows of 0.1 s (a check that everything runs)");
  CLI11_PARSE(app, argc, argv);
  if (quick && min_seconds_option->count() == 0) min_seconds = 0.1;

  try {
    const Corpus corpus = read_corpus(files_from);
    for (unsigned threads = 1; threads <= max_threads; ++threads) {
      progress("cpp md4c: Markdown corpus in process, {} thread(s)", threads);
      corpus_row(corpus, threads, min_seconds);
    }
  } catch (const std::exception& e) {
    progress("fastmd-bench-md4c: {}", e.what());
    return 1;
  }
  return 0;
}
