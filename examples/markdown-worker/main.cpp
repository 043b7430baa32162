// fastmd-worker-md — the reference transformer: methods `transform` (Markdown → HTML with md4c,
// GitHub dialect) and `echo`. By default it serves the fast path through fastmd-ipcd
// (fastmd::ipc::Worker); with --stdio it serves NDJSON on stdin/stdout (the legacy path).
//
//   fastmd-worker-md [--socket PATH] [--name NAME] [--concurrency N] [--spin-us N]
//   fastmd-worker-md --stdio [--concurrency N] [--max-line BYTES]
#include <csignal>
#include <cstdio>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "fastmd/ipc/stdio_server.hpp"
#include "fastmd/ipc/worker.hpp"
#include "markdown.hpp"

namespace {

fastmd::ipc::Worker* running_worker = nullptr;

void stop_on_signal(int) {
  if (running_worker) running_worker->request_stop();
}

int exit_with(const fastmd::proto::Status& status) {
  if (status) return 0;
  spdlog::error("fastmd-worker-md: {}", status.error().to_string());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // stdout may carry NDJSON: every log line goes to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("fastmd-worker-md"));

  CLI::App app{"fastmd-worker-md: the reference Markdown → HTML worker (md4c, GitHub dialect)"};
  app.set_version_flag("--version", std::string("fastmd-worker-md ") + FASTMD_VERSION);
  bool stdio = false;
  std::string socket_path;
  std::string name = "fastmd-worker-md";
  unsigned concurrency = 1;
  unsigned spin_us = 0;
  std::size_t max_line = fastmd::ipc::StdioServerOptions{}.max_line;
  app.add_flag("--stdio", stdio,
               "serve NDJSON on stdin/stdout (the legacy path) instead of the daemon");
  app.add_option("--socket", socket_path,
                 "the daemon's socket (default: $FASTMD_IPC_SOCKET, then the system default)");
  app.add_option("--name", name, "a label for the daemon's logs and status");
  app.add_option("--concurrency", concurrency, "handler threads: calls run at once")
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--spin-us", spin_us,
                 "fast path: poll channels this long before sleeping (0: never spin)");
  app.add_option("--max-line", max_line, "--stdio: longest input line in bytes")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  fastmd::ipc::MethodTable methods = fastmd::examples::markdown_methods(concurrency);

  if (stdio) {
    // A reader that goes away must give an error (EPIPE), not kill the worker mid-batch.
    std::signal(SIGPIPE, SIG_IGN);
    fastmd::ipc::StdioServer server(std::move(methods),
                                    {.threads = concurrency, .max_line = max_line});
    return exit_with(server.run());
  }

  fastmd::ipc::Worker worker(std::move(methods),
                             {.socket_path = socket_path,
                              .name = name,
                              .threads = concurrency,
                              .spin_budget = std::chrono::microseconds(spin_us)});
  running_worker = &worker;
  std::signal(SIGTERM, stop_on_signal);
  std::signal(SIGINT, stop_on_signal);
  return exit_with(worker.run());
}
