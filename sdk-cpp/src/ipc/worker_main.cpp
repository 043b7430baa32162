// worker_main.cpp — run_worker_main(): the command line of every worker program, and the
// choice between the fast path (worker_daemon_mode.hpp) and the legacy NDJSON server
// (StdioServer). It builds on every platform, Windows included (docs/platforms.md).
#include "fastmd/ipc/worker_main.hpp"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/ipc/stdio_server.hpp"
#include "fastmd/platform/stdio_stream.hpp"
#include "fastmd/proto/limits.hpp"
#include "worker_daemon_mode.hpp"

namespace fastmd::ipc {

namespace {

// --wait-for-daemon[=SECONDS]: absent → wait forever under systemd (INVOCATION_ID set, so
// the order of units does not matter), else not at all; given alone → forever; 0 → not at all.
std::chrono::milliseconds wait_for_daemon(const CLI::Option& option, const std::string& seconds) {
  using std::chrono::milliseconds;
  if (option.count() == 0) {
    return std::getenv("INVOCATION_ID") != nullptr ? milliseconds::max() : milliseconds{0};
  }
  if (seconds.empty()) return milliseconds::max();
  return milliseconds{static_cast<std::int64_t>(std::stod(seconds) * 1000)};
}

int exit_code(const WorkerProgram& program, const proto::Status& status) {
  if (status) return 0;
  spdlog::error("{}: {}", program.name, status.error().to_string());
  return 1;
}

}  // namespace

int run_worker_main(int argc, char** argv, const WorkerProgram& program) {
  // stdout may carry NDJSON: every log line goes to stderr.
  if (!spdlog::get(program.name)) {
    spdlog::set_default_logger(spdlog::stderr_color_mt(program.name));
  }

  CLI::App app{program.description, program.name};
  app.set_version_flag("--version", program.name + " " + program.version);
  if (!program.footer.empty()) app.footer(program.footer);
  bool stdio = false;
  std::string socket_path;
  std::string name = program.name;
  unsigned concurrency = 1;
  unsigned spin_us = 0;
  std::uint32_t ring_kib = policy::kRingBytes / 1024;
  std::size_t max_line = StdioServerOptions{}.max_line;
  app.add_flag("--stdio", stdio,
               "serve NDJSON on stdin/stdout (the legacy path) instead of the daemon");
  app.add_option("--socket", socket_path,
                 "the daemon's socket (default: $FASTMD_IPC_SOCKET, then the system default)");
  app.add_option("--name", name, "a label for the daemon's logs and status")->capture_default_str();
  app.add_option("--concurrency", concurrency, "handler threads: calls run at once")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  const CLI::Option* spin_option = app.add_option(
      "--spin-us", spin_us,
      "fast path: poll channels up to this long before sleeping (0: never spin). Default: "
      "adaptive, only while a core is free and about as long as recent requests took to "
      "come, at most " +
          std::to_string(policy::kSpinLearnedMax.count()) + " us");
  app.add_option("--ring-kib", ring_kib,
                 "fast path: KiB of the shared-memory ring this worker writes its small answers "
                 "into, per client that offers rings too (a power of two, " +
                     std::to_string(proto::kMinRingBytes / 1024) + " to " +
                     std::to_string(proto::kMaxRingBytes / 1024) + "; 0: socket frames only)")
      ->check(CLI::Range(0u, proto::kMaxRingBytes / 1024))
      ->capture_default_str();
  std::string wait_seconds;
  const CLI::Option* wait_option =
      app.add_option("--wait-for-daemon", wait_seconds,
                     "when the daemon is not up yet, retry (with backoff) for SECONDS, or until "
                     "it comes when no value is given, instead of failing with "
                     "DAEMON_UNREACHABLE; 0: fail at once. Default: wait under systemd "
                     "(INVOCATION_ID set), else fail at once")
          ->expected(0, 1)
          ->type_name("[=SECONDS]")
          ->check(CLI::NonNegativeNumber);
  app.add_option("--max-line", max_line, "--stdio: longest input line in bytes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  MethodTable methods = program.methods(concurrency);

  if (stdio) {
    StdioServerOptions options{.threads = concurrency, .max_line = max_line};
    platform::prepare_stdio_streams(options.input_fd, options.output_fd);
    StdioServer server(std::move(methods), options);
    return exit_code(program, server.run());
  }
  return exit_code(program,
                   detail::serve_through_daemon(
                       std::move(methods),
                       {.socket_path = socket_path,
                        .name = name,
                        .threads = concurrency,
                        .spin_budget = spin_option->count() > 0
                                           ? std::optional(std::chrono::microseconds(spin_us))
                                           : std::nullopt,
                        .ring_bytes = ring_kib * 1024,
                        .wait_for_daemon = wait_for_daemon(*wait_option, wait_seconds)}));
}

}  // namespace fastmd::ipc
