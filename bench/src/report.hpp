// report.hpp — how a C++ benchmark hands its measurements to bench/run: one JSON object per
// line on stdout, in the row shape of bench/results/latest.json (docs/performance.md), with
// the fields that do not apply left out. Progress goes to stderr.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace fastmd::bench {

/// Latency percentiles of one series of round trips, in microseconds.
struct Percentiles {
  double p50_us = 0, p99_us = 0, p999_us = 0;
};

/// Percentiles from sorted samples (nearest rank): no histogram binning, so every figure is
/// a latency that was actually observed. `samples_ns` is sorted in place.
inline Percentiles percentiles(std::vector<double>& samples_ns) {
  Percentiles p;
  if (samples_ns.empty()) return p;
  std::sort(samples_ns.begin(), samples_ns.end());
  const auto rank = [&](double q) {
    const auto n = samples_ns.size();
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    return samples_ns[std::min(n - 1, i == 0 ? 0 : i - 1)] / 1000.0;
  };
  p.p50_us = rank(0.50);
  p.p99_us = rank(0.99);
  p.p999_us = rank(0.999);
  return p;
}

/// One measurement. `client`/`transport`/`method` say what ran; everything else is optional.
struct Row {
  std::string client = "cpp";
  std::string transport;
  std::string method;
  std::optional<std::uint64_t> payload_bytes;
  std::optional<Percentiles> latency;
  std::optional<double> msgs_per_s;
  std::optional<double> gb_per_s;
  std::optional<double> files_per_s;            // corpus rows: files rendered per second
  std::optional<double> mb_per_s;               // corpus rows: 10^6 bytes of Markdown per second
  std::optional<std::uint64_t> workers;         // corpus rows: workers (here: threads)
  std::optional<double> cpu_us_per_req;         // client + worker, user + sys
  std::optional<double> client_cpu_us_per_req;  // the client's share
  std::optional<double> worker_cpu_us_per_req;  // the worker's share
  std::optional<double> minflt_per_req;         // minor page faults, client + worker
  std::optional<double> us_per_fault;           // the page-fault floor
  std::optional<double> daemon_rss_kib;
  std::optional<std::uint64_t> sessions;
  std::optional<std::uint64_t> iterations;
  std::string note;  // what the row means when the columns alone do not say it
};

namespace detail {
inline void field(std::string& out, const char* name, double value) {
  out += fmt::format(",\"{}\":{}", name, std::isfinite(value) ? value : 0.0);
}
}  // namespace detail

/// Writes `row` as one JSON line on stdout and flushes (bench/run reads it as it comes).
inline void emit(const Row& row) {
  std::string out =
      fmt::format("{{\"client\":\"{}\",\"transport\":\"{}\"", row.client, row.transport);
  if (!row.method.empty()) out += fmt::format(",\"method\":\"{}\"", row.method);
  if (row.payload_bytes) out += fmt::format(",\"payload_bytes\":{}", *row.payload_bytes);
  if (row.latency) {
    detail::field(out, "p50_us", row.latency->p50_us);
    detail::field(out, "p99_us", row.latency->p99_us);
    detail::field(out, "p999_us", row.latency->p999_us);
  }
  if (row.msgs_per_s) detail::field(out, "msgs_per_s", *row.msgs_per_s);
  if (row.gb_per_s) detail::field(out, "gb_per_s", *row.gb_per_s);
  if (row.files_per_s) detail::field(out, "files_per_s", *row.files_per_s);
  if (row.mb_per_s) detail::field(out, "mb_per_s", *row.mb_per_s);
  if (row.workers) out += fmt::format(",\"workers\":{}", *row.workers);
  if (row.cpu_us_per_req) detail::field(out, "cpu_us_per_req", *row.cpu_us_per_req);
  if (row.client_cpu_us_per_req)
    detail::field(out, "client_cpu_us_per_req", *row.client_cpu_us_per_req);
  if (row.worker_cpu_us_per_req)
    detail::field(out, "worker_cpu_us_per_req", *row.worker_cpu_us_per_req);
  if (row.minflt_per_req) detail::field(out, "minflt_per_req", *row.minflt_per_req);
  if (row.us_per_fault) detail::field(out, "us_per_fault", *row.us_per_fault);
  if (row.daemon_rss_kib) detail::field(out, "daemon_rss_kib", *row.daemon_rss_kib);
  if (row.sessions) out += fmt::format(",\"sessions\":{}", *row.sessions);
  if (row.iterations) out += fmt::format(",\"iterations\":{}", *row.iterations);
  if (!row.note.empty()) out += fmt::format(",\"note\":\"{}\"", row.note);
  out += "}\n";
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}

/// A progress line on stderr (the terminal), never mixed into the rows.
template <typename... Args>
void progress(fmt::format_string<Args...> format, Args&&... args) {
  std::fputs((fmt::format(format, std::forward<Args>(args)...) + "\n").c_str(), stderr);
}

}  // namespace fastmd::bench
