// The daemon's worker pools with the real daemon and the real fastmd-worker-md: a pool serves
// calls with no worker started by hand, crashed workers are restarted and a crash loop is
// stopped, at-start pools run without clients, SIGHUP adds and removes pools under load and
// SIGTERM stops the workers, with every call counted; worker output reaches the daemon's log.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "call_tally.hpp"
#include "daemon_process.hpp"
#include "fastmd/ipc/client.hpp"
#include "peer_checks.hpp"
#include "worker_pools.hpp"

using namespace fastmd;
using namespace fastmd::test;

namespace {

/// A daemon started on a config file holding `config` (the file stays, for SIGHUP cases).
struct PoolDaemon {
  explicit PoolDaemon(const std::string& config, std::vector<std::string> extra_args = {})
      : path(write_config(dir, config)), daemon(with_config(path, std::move(extra_args))) {}

  static std::vector<std::string> with_config(const std::string& path,
                                              std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", path});
    return args;
  }

  static std::string write_config(const TempDir& dir, const std::string& text) {
    const std::string path = dir.path() + "/ipcd.toml";
    write_file(path, text);
    return path;
  }

  std::unique_ptr<ipc::Client> client() {
    auto client = ipc::Client::connect({.socket_path = daemon.socket_path()});
    REQUIRE(client);
    return std::move(*client);
  }

  /// Waits, bounded, until `client` is introduced to `count` workers and the pool `name` shows
  /// `count` ready ones; that view.
  PoolView wait_ready(ipc::Client& client, const std::string& name, std::size_t count) {
    REQUIRE(client.wait_for_workers(count, 10s));
    auto view = wait_for(name, [count](const PoolView& p) { return p.ready_workers() == count; });
    REQUIRE(view);
    REQUIRE(view->ready_workers() == count);
    return *view;
  }

  std::optional<PoolView> wait_for(const std::string& name,
                                   const std::function<bool(const PoolView&)>& done,
                                   std::chrono::milliseconds timeout = 10s) {
    return wait_for_pool(daemon.socket_path(), name, done, timeout);
  }

  TempDir dir;
  std::string path;
  DaemonProcess daemon;
};

proto::ByteView bytes(const std::string& s) {
  return proto::as_bytes(s);
}

std::string joined(const std::vector<std::size_t>& counts) {
  std::string text;
  for (std::size_t count : counts) text += (text.empty() ? "" : " ") + std::to_string(count);
  return text;
}

}  // namespace

TEST_CASE("a config with one pool and no worker started by hand serves calls") {
  PoolDaemon pool(pool_table("markdown", worker_md_command(), "min = 1\n"));
  auto client = pool.client();
  REQUIRE(client->wait_for_workers(1, 10s));
  auto html = client->call("transform", bytes("# Hello *pools*\n"));
  REQUIRE(html.ok());
  CHECK(html->text() == "<h1>Hello <em>pools</em></h1>\n");

  auto view = pool.wait_for("markdown", [](const PoolView& p) { return p.ready_workers() == 1; });
  REQUIRE(view);
  CHECK(view->state == "ready");
  CHECK(view->restarts == 0);
  // Not declared in the config: learned from the worker's hello.
  CHECK(view->methods == std::vector<std::string>{"echo", "length", "transform"});
  CHECK(pool.daemon.wait_for_log("pool 'markdown': started worker " +
                                 std::to_string(view->workers.at(0).pid)));
}

TEST_CASE("an at-start pool has its workers running without any client") {
  SECTION("min workers") {
    PoolDaemon pool(pool_table("markdown", worker_md_command(),
                               "methods = [\"transform\"]\nmin = 3\nstart = \"at-start\"\n"));
    auto view = pool.wait_for("markdown", [](const PoolView& p) { return p.ready_workers() == 3; });
    REQUIRE(view);
    CHECK(view->ready_workers() == 3);
    const std::vector<pid_t> pids = view->pids();
    CHECK(std::set<pid_t>(pids.begin(), pids.end()).size() == 3);
  }
  SECTION("at least one worker with min = 0") {
    PoolDaemon pool(pool_table("markdown", worker_md_command(),
                               "methods = [\"transform\"]\nstart = \"at-start\"\n"));
    auto view = pool.wait_for("markdown", [](const PoolView& p) { return p.ready_workers() == 1; });
    REQUIRE(view);
    CHECK(view->ready_workers() == 1);
  }
  SECTION("an on-demand pool with declared methods and min = 0 starts none") {
    PoolDaemon pool(pool_table("markdown", worker_md_command(), "methods = [\"transform\"]\n"));
    auto view = pool.wait_for("markdown", [](const PoolView&) { return true; });
    REQUIRE(view);
    CHECK(view->workers.empty());
    CHECK(view->state == "ready");
  }
}

TEST_CASE("kill -9 of pool workers under load: each is restarted, every call answered once") {
  PoolDaemon pool(
      pool_table("markdown", worker_md_command(2), "min = 2\nrestart-backoff-ms = [20, 200]\n"));
  auto client = pool.client();
  const PoolView before = pool.wait_ready(*client, "markdown", 2);

  constexpr std::size_t kCalls = 4000;
  Tally tally(kCalls);
  for (std::size_t i = 0; i < kCalls; ++i) {
    client->call_async("transform", bytes("# call " + std::to_string(i) + "\n"), tally.recorder(i));
    if (i == kCalls / 4) REQUIRE(::kill(before.workers[0].pid, SIGKILL) == 0);
    if (i == kCalls / 2) REQUIRE(::kill(before.workers[1].pid, SIGKILL) == 0);
    if (i % 200 == 0) std::this_thread::sleep_for(2ms);
  }
  REQUIRE(tally.wait_all(60s));
  CHECK(tally.each_answered_once());
  CHECK(tally.succeeded() == kCalls);  // idempotent calls are re-sent to a live worker

  auto after = pool.wait_for(
      "markdown", [](const PoolView& p) { return p.restarts == 2 && p.ready_workers() == 2; });
  REQUIRE(after);
  CHECK(after->restarts == 2);
  CHECK(after->ready_workers() == 2);
  for (pid_t old : before.pids()) {
    const auto pids = after->pids();
    CHECK(std::find(pids.begin(), pids.end(), old) == pids.end());
  }
  CHECK(after->last_exit == "killed by signal 9 (Killed)");
  CHECK(pool.daemon.wait_for_log("pool 'markdown': worker " +
                                 std::to_string(before.workers[0].pid) +
                                 " exited unexpectedly (killed by signal 9 (Killed))"));
  REQUIRE(client->call("echo", bytes("after")).ok());
}

TEST_CASE("a crash-looping command is stopped after the configured limit, status says so") {
  PoolDaemon pool(pool_table("broken", {"/bin/false"},
                             "methods = [\"transform\"]\nmin = 1\nrestart-backoff-ms = [10, 40]\n"
                             "crash-loop = { failures = 4, within-s = 60 }\n"));
  auto view = pool.wait_for("broken", [](const PoolView& p) { return p.state == "crash-looping"; });
  REQUIRE(view);
  CHECK(view->state == "crash-looping");
  CHECK(view->workers.empty());
  CHECK(view->recent_failures == 4);
  CHECK(view->restarts == 3);  // the first start, then three restarts, each exiting
  CHECK(view->last_exit == "exit status 1");
  REQUIRE(pool.daemon.wait_for_log(
      "pool 'broken' is crash-looping: 4 worker exits within 60 s (last: exit status 1); not "
      "restarting it until SIGHUP changes its config"));
  // Stopped for good: no more starts, and the daemon logged the stop once.
  std::this_thread::sleep_for(300ms);
  auto later = pool.wait_for("broken", [](const PoolView&) { return true; });
  REQUIRE(later);
  CHECK(later->restarts == 3);
  const std::string log = pool.daemon.log();
  std::size_t lines = 0;
  for (auto at = log.find("is crash-looping"); at != std::string::npos;
       at = log.find("is crash-looping", at + 1)) {
    ++lines;
  }
  CHECK(lines == 1);

  const CommandResult shown =
      run_program("fastmd-ipcctl", {"pools", "--socket", pool.daemon.socket_path()});
  INFO(shown.output);
  CHECK(shown.exit_code == 0);
  CHECK(shown.output.find("pool broken: crash-looping") != std::string::npos);
  CHECK(shown.output.find("last unexpected exit: exit status 1") != std::string::npos);
}

TEST_CASE("worker stdout and stderr lines reach the daemon's log with the pool and pid") {
  // A shell as the worker: it writes one line to each stream, then stays until stopped.
  PoolDaemon pool(
      pool_table("chatty",
                 {"/bin/sh", "-c",
                  "echo \"to stdout from $FASTMD_IPC_POOL\"; echo 'to stderr' >&2; exec sleep 30"},
                 "methods = [\"transform\"]\nmin = 1\n"));
  auto view = pool.wait_for("chatty", [](const PoolView& p) { return p.workers.size() == 1; });
  REQUIRE(view);
  REQUIRE(view->workers.size() == 1);
  const std::string prefix = "pool 'chatty' worker " + std::to_string(view->workers[0].pid);
  CHECK(pool.daemon.wait_for_log(prefix + " stdout: to stdout from chatty"));
  CHECK(pool.daemon.wait_for_log(prefix + " stderr: to stderr"));
}

TEST_CASE("SIGHUP adding and removing a pool under load loses no call") {
  PoolDaemon pool(pool_table("first", worker_md_command(2), "min = 1\n"));
  auto client = pool.client();
  REQUIRE(client->wait_for_workers(1, 10s));

  constexpr std::size_t kCalls = 6000;
  Tally tally(kCalls);
  std::atomic<std::size_t> sent{0};
  std::thread load([&] {
    for (std::size_t i = 0; i < kCalls; ++i) {
      // Not idempotent: a call is never sent twice, so none may be lost on a removed worker.
      client->call_async("transform", bytes("*call* " + std::to_string(i) + "\n"),
                         tally.recorder(i), ipc::CallOptions{.idempotent = false});
      sent = i + 1;
      if (i % 50 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  const auto wait_sent = [&](std::size_t count) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (sent < count && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(1ms);
    }
  };

  wait_sent(kCalls / 4);
  write_file(pool.path, pool_table("first", worker_md_command(2), "min = 1\n") + "\n" +
                            pool_table("second", worker_md_command(2), "min = 2\n"));
  REQUIRE(::kill(pool.daemon.pid(), SIGHUP) == 0);
  auto second = pool.wait_for("second", [](const PoolView& p) { return p.ready_workers() == 2; });
  REQUIRE(second);
  REQUIRE(second->ready_workers() == 2);
  CHECK(pool.daemon.wait_for_log("SIGHUP: adding pool 'second'"));

  wait_sent(kCalls / 2);
  const std::vector<pid_t> first_pids =
      pool.wait_for("first", [](const PoolView&) { return true; })->pids();
  write_file(pool.path, pool_table("second", worker_md_command(2), "min = 2\n"));
  REQUIRE(::kill(pool.daemon.pid(), SIGHUP) == 0);
  CHECK(pool.daemon.wait_for_log("SIGHUP: removing pool 'first'"));
  load.join();

  REQUIRE(tally.wait_all(60s));
  CHECK(tally.each_answered_once());
  CHECK(tally.succeeded() == kCalls);
  // The removed pool is gone, with its workers.
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < give_up) {
    const auto pools = worker_pools(pool.daemon.socket_path());
    if (pools.size() == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  const auto pools = worker_pools(pool.daemon.socket_path());
  REQUIRE(pools.size() == 1);
  CHECK(pools[0].name == "second");
  for (pid_t pid : first_pids) CHECK(process_gone(pid));
  REQUIRE(client->call("echo", bytes("after")).ok());
}

TEST_CASE("SIGTERM with far more calls in flight than handler slots: each answered once, exit 0") {
  // Two one-slot workers and 1500 calls on their channels when SIGTERM comes, nearly all of
  // them queued or still unread: a stopping worker answers every call on its channels within
  // the drain bound (PROTOCOL.md §3.11), then exits. The bound is generous for a loaded machine.
  PoolDaemon pool(pool_table("markdown", worker_md_command(1), "min = 2\n"),
                  {"--drain-timeout-ms", "30000"});
  auto client = pool.client();
  const PoolView view = pool.wait_ready(*client, "markdown", 2);

  std::string document;
  while (document.size() < 16 * 1024) document += "# Title\n\nSome *text* and `code`.\n\n";
  constexpr std::size_t kCalls = 1500;
  Tally tally(kCalls);
  for (std::size_t i = 0; i < kCalls; ++i) {
    // Not idempotent: the client re-sends none that a worker took, so each must be answered.
    client->call_async("transform", bytes(document), tally.recorder(i),
                       ipc::CallOptions{.idempotent = false});
  }
  REQUIRE(::kill(pool.daemon.pid(), SIGTERM) == 0);
  REQUIRE(tally.wait_all(60s));
  CHECK(tally.each_answered_once());
  INFO("failed with PEER_GONE: " << tally.failed_with(proto::Errc::peer_gone)
                                 << ", NO_WORKER: " << tally.failed_with(proto::Errc::no_worker)
                                 << ", WORKER_STOPPING: "
                                 << tally.failed_with(proto::Errc::worker_stopping));
  CHECK(tally.succeeded() == kCalls);
  CHECK(pool.daemon.wait_exit(40s) == 0);
  for (pid_t pid : view.pids()) CHECK(process_gone(pid));
}

TEST_CASE(
    "a pool worker whose hello has no reports_load is not stopped as idle, a reporting one is") {
  // Both pools start one worker and stop idle ones after 1 s; the silent worker (the hostile
  // test worker, which speaks the raw protocol and never says reports_load) has load unknown.
  const std::string idle_rules = "start = \"at-start\"\nmin = 0\nidle-stop-s = 1\n";
  PoolDaemon pool(pool_table("reporting", worker_md_command(1), idle_rules) + "\n" +
                  pool_table("silent", silent_worker_command("silent"), idle_rules));
  auto silent = pool.wait_for("silent", [](const PoolView& p) { return p.ready_workers() == 1; });
  REQUIRE(silent);
  const pid_t silent_pid = silent->pids().at(0);
  REQUIRE(pool.wait_for("reporting", [](const PoolView& p) { return p.ready_workers() == 1; }));

  // The reporting worker is stopped once idle for 1 s; the silent one, idle as long, is not.
  auto stopped = pool.wait_for(
      "reporting", [](const PoolView& p) { return p.workers.empty(); }, 30s);
  REQUIRE(stopped);
  CHECK(pool.daemon.wait_for_log("idle for at least 1 s (min 0)"));
  // Two more seconds of the supervisor's ticks (250 ms each) for the silent one.
  std::this_thread::sleep_for(2s);
  auto still = pool.wait_for("silent", [](const PoolView&) { return true; });
  REQUIRE(still);
  REQUIRE(still->workers.size() == 1);
  CHECK(still->workers.at(0).pid == silent_pid);
  CHECK(still->workers.at(0).state == "ready");
}

TEST_CASE("the scaling policy runs on the pool: idle workers above min are stopped") {
  const auto config = [](int min) {
    return pool_table("markdown", worker_md_command(),
                      "min = " + std::to_string(min) + "\nmax = 3\nidle-stop-s = 1\n");
  };
  PoolDaemon pool(config(2));
  auto client = pool.client();
  REQUIRE(client->wait_for_workers(2, 10s));
  auto two = pool.wait_for("markdown", [](const PoolView& p) { return p.ready_workers() == 2; });
  REQUIRE(two);
  REQUIRE(two->ready_workers() == 2);

  // min lowered by SIGHUP: the worker above it is stopped once idle for idle-stop-s.
  write_file(pool.path, config(1));
  REQUIRE(::kill(pool.daemon.pid(), SIGHUP) == 0);
  auto one = pool.wait_for("markdown", [](const PoolView& p) { return p.workers.size() == 1; });
  REQUIRE(one);
  CHECK(one->workers.size() == 1);
  CHECK(one->ready_workers() == 1);
  CHECK(one->restarts == 0);  // stopped on purpose, not restarted
  CHECK(pool.daemon.wait_for_log(" stopped (exit status 0)"));
  REQUIRE(client->call("echo", bytes("still served")).ok());
}

TEST_CASE("a worker given a FASTMD_IPC_CONTROL_FD that is no socket says so and exits") {
  for (const char* value : {"abc", "97", "0"}) {
    INFO(value);
    ::setenv("FASTMD_IPC_CONTROL_FD", value, 1);
    const CommandResult result = run_program("fastmd-worker-md", {}, 10s);
    ::unsetenv("FASTMD_IPC_CONTROL_FD");
    INFO(result.output);
    CHECK(result.exit_code != 0);
    CHECK(result.output.find(std::string("FASTMD_IPC_CONTROL_FD=") + value + ": ") !=
          std::string::npos);
  }
}

TEST_CASE(
    "on-demand start: no worker runs before the first call, which waits for one and succeeds") {
  // Methods declared, min 0: nothing to learn, nothing to keep, so no worker at daemon start.
  // The client's wait is raised above the default so that a slow start on a loaded machine
  // cannot turn into NO_WORKER.
  PoolDaemon pool(pool_table("markdown", worker_md_command(),
                             "methods = [\"transform\", \"echo\", \"length\"]\n"),
                  {"--no-worker-wait-ms", "30000"});
  auto idle = pool.wait_for("markdown", [](const PoolView&) { return true; });
  REQUIRE(idle);
  CHECK(idle->workers.empty());
  CHECK(idle->wanted == 0);
  const CommandResult shown =
      run_program("fastmd-ipcctl", {"pools", "--json", "--socket", pool.daemon.socket_path()});
  INFO(shown.output);
  REQUIRE(shown.exit_code == 0);
  std::string compact = shown.output;  // pretty-printed JSON, compared without its spacing
  std::erase_if(compact, [](char c) { return c == ' ' || c == '\n'; });
  CHECK(compact.find("\"name\":\"markdown\"") != std::string::npos);
  CHECK(compact.find("\"workers\":[]") != std::string::npos);

  auto client = pool.client();
  CHECK(client->worker_count() == 0);
  auto html = client->call("transform", bytes("*on demand*\n"));
  REQUIRE(html.ok());
  CHECK(html->text() == "<p><em>on demand</em></p>\n");
  CHECK(client->worker_count() == 1);

  auto started =
      pool.wait_for("markdown", [](const PoolView& p) { return p.ready_workers() == 1; });
  REQUIRE(started);
  CHECK(started->ready_workers() == 1);
  CHECK(started->restarts == 0);
  CHECK(pool.daemon.wait_for_log("pool 'markdown': started worker " +
                                 std::to_string(started->workers.at(0).pid)));
}

TEST_CASE("a busy one-thread worker makes the pool grow, and the pool shrinks to min when idle") {
  // fastmd-worker-md --concurrency 1 has one handler thread shared by its three methods (each
  // declared with concurrency 1): two calls held, one running and one queued, are more than it
  // can run at once, so the pool must grow. The load keeps two big transforms in flight until
  // a second worker is ready.
  PoolDaemon pool(
      pool_table("markdown", worker_md_command(1), "min = 1\nmax = 2\nidle-stop-s = 1\n"));
  auto client = pool.client();
  pool.wait_ready(*client, "markdown", 1);

  std::string document;
  while (document.size() < 512 * 1024) document += "# Title\n\nSome *text* and `code`.\n\n";
  constexpr std::size_t kMaxCalls = 100000;  // a bound on the load, never reached in practice
  constexpr std::size_t kInFlight = 2;
  Tally tally(kMaxCalls);
  std::mutex mutex;
  std::condition_variable answered;
  std::size_t sent = 0;
  std::size_t done = 0;
  bool keep_busy = true;
  std::thread load([&] {
    std::unique_lock lock(mutex);
    while (keep_busy && sent < kMaxCalls) {
      answered.wait(lock, [&] { return sent - done < kInFlight || !keep_busy; });
      if (!keep_busy) break;
      const std::size_t index = sent++;
      lock.unlock();
      fastmd::ipc::Callback record = tally.recorder(index);
      client->call_async("transform", bytes(document), [&, record](ipc::CallResult result) mutable {
        record(std::move(result));
        std::lock_guard done_lock(mutex);
        ++done;
        answered.notify_all();
      });
      lock.lock();
    }
  });

  std::vector<std::size_t> counts;  // the pool's worker counts over time, for the report
  const auto count_seen = [&](const PoolView& p) {
    if (counts.empty() || counts.back() != p.workers.size()) counts.push_back(p.workers.size());
    return p.ready_workers() == 2;
  };
  auto grown = pool.wait_for("markdown", count_seen, 30s);
  {
    std::lock_guard lock(mutex);
    keep_busy = false;
  }
  answered.notify_all();
  load.join();
  INFO("worker counts seen: " << joined(counts));
  REQUIRE(grown);
  CHECK(grown->ready_workers() == 2);
  CHECK(pool.daemon.wait_for_log("ready workers saturated for"));

  // Every call sent is answered once, with its result.
  std::size_t calls = 0;
  {
    std::unique_lock lock(mutex);
    REQUIRE(answered.wait_for(lock, 60s, [&] { return done == sent; }));
    calls = sent;
  }
  CHECK(tally.succeeded() == calls);
  CHECK(tally.failed() == 0);

  // Idle now: the worker above min stops after idle-stop-s, and is not restarted.
  auto shrunk = pool.wait_for(
      "markdown",
      [&](const PoolView& p) {
        count_seen(p);
        return p.workers.size() == 1 && p.ready_workers() == 1;
      },
      30s);
  INFO("worker counts seen: " << joined(counts));
  REQUIRE(shrunk);
  CHECK(shrunk->workers.size() == 1);
  CHECK(shrunk->restarts == 0);
  CHECK(pool.daemon.wait_for_log("idle for at least 1 s (min 1)"));
  CHECK(counts.front() == 1);
  CHECK(tally.succeeded() == calls);  // and no call was answered again later
  REQUIRE(client->call("echo", bytes("after")).ok());
}

TEST_CASE("max-requests recycles workers through the daemon, and every call is answered once") {
  PoolDaemon pool(pool_table("markdown", worker_md_command(2), "min = 1\nmax-requests = 50\n"));
  auto client = pool.client();
  const pid_t first_pid = pool.wait_ready(*client, "markdown", 1).workers.at(0).pid;

  // Batches of 25, each answered before the next is sent, so the load reports between them
  // let the daemon see each worker pass max-requests and recycle it while calls go on.
  constexpr std::size_t kCalls = 300;
  constexpr std::size_t kBatch = 25;
  std::size_t succeeded = 0;
  std::set<pid_t> pids_seen{first_pid};
  for (std::size_t start = 0; start < kCalls; start += kBatch) {
    Tally batch(kBatch);
    for (std::size_t i = 0; i < kBatch; ++i) {
      client->call_async("transform", bytes("# call " + std::to_string(start + i) + "\n"),
                         batch.recorder(i));
    }
    REQUIRE(batch.wait_all(60s));
    CHECK(batch.each_answered_once());
    succeeded += batch.succeeded();
    for (const PoolView& p : worker_pools(pool.daemon.socket_path())) {
      for (pid_t pid : p.pids()) pids_seen.insert(pid);
    }
  }
  CHECK(succeeded == kCalls);

  // The first worker served more than 50: it was replaced by a new process, not restarted.
  auto replaced = pool.wait_for("markdown", [&](const PoolView& p) {
    for (pid_t pid : p.pids()) pids_seen.insert(pid);
    const auto pids = p.pids();
    return p.ready_workers() == 1 && p.workers.size() == 1 &&
           std::find(pids.begin(), pids.end(), first_pid) == pids.end();
  });
  REQUIRE(replaced);
  CHECK(replaced->workers.at(0).pid != first_pid);
  CHECK(replaced->restarts == 0);
  CHECK(process_gone(first_pid));
  CHECK(pids_seen.size() >= 2);
  CHECK(pool.daemon.wait_for_log("pool 'markdown': recycle worker "));
  REQUIRE(client->call("echo", bytes("after")).ok());
}
