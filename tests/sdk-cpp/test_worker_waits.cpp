// Workers started by hand before the daemon (PROTOCOL.md §3.8, docs/operations.md "Running
// workers"): with --wait-for-daemon, or under systemd by default, the real fastmd-worker-md
// retries with the reconnection backoff instead of exiting, and joins when the daemon comes.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "cluster.hpp"

using namespace std::chrono_literals;
using fastmd::testing::ChildProcess;

namespace {

const std::string kWorker = std::string(FASTMD_BIN_DIR) + "/fastmd-worker-md";

// Starts the daemon on `socket_path` and requires a call through it to reach the worker.
void require_worker_joins(const std::string& socket_path) {
  fastmd::test::DaemonProcess daemon({"--log-level", "warn"}, socket_path);
  auto client = fastmd::ipc::Client::connect({.socket_path = socket_path});
  REQUIRE(client);
  REQUIRE((*client)->wait_for_workers(1, 10s));
  auto html = (*client)->call("transform", fastmd::proto::as_bytes("# *joined*"));
  REQUIRE(html.ok());
  CHECK(html->text() == "<h1><em>joined</em></h1>\n");
}

}  // namespace

TEST_CASE("a worker started before the daemon with --wait-for-daemon joins when it comes up") {
  fastmd::test::TempDir dir;
  const std::string socket_path = dir.path() + "/ipcd.sock";
  ChildProcess worker({kWorker, "--socket", socket_path, "--wait-for-daemon"});
  // No daemon for a while: the worker keeps waiting instead of exiting DAEMON_UNREACHABLE.
  REQUIRE_FALSE(worker.wait_exit(300ms));
  require_worker_joins(socket_path);
}

TEST_CASE("under systemd (INVOCATION_ID set) a worker waits for the daemon by default") {
  fastmd::test::TempDir dir;
  const std::string socket_path = dir.path() + "/ipcd.sock";
  REQUIRE(::setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1) == 0);
  ChildProcess worker({kWorker, "--socket", socket_path});
  REQUIRE(::unsetenv("INVOCATION_ID") == 0);
  REQUIRE_FALSE(worker.wait_exit(300ms));
  require_worker_joins(socket_path);
}

TEST_CASE("a waiting worker stopped by SIGTERM exits 0") {
  fastmd::test::TempDir dir;
  ChildProcess worker({kWorker, "--socket", dir.path() + "/ipcd.sock", "--wait-for-daemon"});
  // It installs its handler just before it starts to wait: a SIGTERM before that (a slow
  // start, under a sanitizer on a loaded machine) would meet the default action instead.
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (!fastmd::testing::catches_signal(worker.pid(), SIGTERM) &&
         std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(fastmd::testing::catches_signal(worker.pid(), SIGTERM));
  REQUIRE_FALSE(worker.wait_exit(200ms));
  worker.signal(SIGTERM);
  const auto status = worker.wait_exit(10s);
  REQUIRE(status);
  REQUIRE(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE(
    "a worker with --wait-for-daemon=SECONDS gives up after that long, logging once what it waited "
    "for") {
  fastmd::test::TempDir dir;
  const std::string socket_path = dir.path() + "/ipcd.sock";
  const auto waited = fastmd::test::run_program(
      "fastmd-worker-md", {"--socket", socket_path, "--wait-for-daemon=0.3"}, 10s);
  CHECK(waited.exit_code == 1);
  CHECK(waited.output.find("waiting for the daemon at " + socket_path) != std::string::npos);
  CHECK(waited.output.find("retrying for up to 0.3 s") != std::string::npos);
  CHECK(waited.output.find("DAEMON_UNREACHABLE") != std::string::npos);
  CHECK(waited.output.find("waiting for the daemon",
                           waited.output.find("waiting for the daemon") + 1) == std::string::npos);

  // Without the flag, outside systemd, the worker fails at once, as before.
  const auto at_once =
      fastmd::test::run_program("fastmd-worker-md", {"--socket", socket_path}, 10s);
  CHECK(at_once.exit_code == 1);
  CHECK(at_once.output.find("DAEMON_UNREACHABLE") != std::string::npos);
  CHECK(at_once.output.find("waiting for the daemon") == std::string::npos);
}
