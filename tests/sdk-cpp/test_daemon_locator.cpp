// Client::connect in `auto` with nothing configured: the per-user daemon is started on first
// use, shared by clients connecting at once (one daemon), and gone after its idle timeout with
// nothing left behind; an unsafe per-user directory is refused with the reason; and
// FASTMD_IPC_ROLLOUT splits processes as asked, each one's choice stable.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon_locator.hpp"
#include "daemon_process.hpp"
#include "fastmd/ipc/client.hpp"

using namespace std::chrono_literals;
using fastmd::ipc::Client;
using fastmd::ipc::ClientOptions;
using fastmd::proto::Errc;
using fastmd::test::TempDir;

namespace {

/// Sets (or, with nullopt, unsets) an environment variable for one test; restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// Nothing configured: no FASTMD_IPC_SOCKET, the per-user directory under `runtime`, the
/// binaries from the build, and a short idle timeout for the daemon these tests start.
struct ZeroConfig {
  explicit ZeroConfig(const std::string& runtime)
      : socket("FASTMD_IPC_SOCKET", std::nullopt),
        xdg("XDG_RUNTIME_DIR", runtime),
        bin("FASTMD_BIN_DIR", std::string(FASTMD_BIN_DIR)),
        idle("FASTMD_IPCD_IDLE_EXIT_S", "1") {}
  ScopedEnv socket, xdg, bin, idle;
};

pid_t pid_in(const std::string& lock_file) {
  std::ifstream in(lock_file);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

std::size_t shm_objects_of(pid_t pid) {
  const std::string prefix =
      "fastmd-" + std::to_string(::geteuid()) + "-" + std::to_string(pid) + "-";
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    if (entry.path().filename().string().starts_with(prefix)) ++count;
  }
  return count;
}

std::size_t entries_in(const std::string& dir) {
  std::error_code error;
  std::size_t count = 0;
  for (auto it = std::filesystem::directory_iterator(dir, error);
       !error && it != std::filesystem::directory_iterator(); ++it) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE(
    "auto starts one per-user daemon for two clients connecting at once, which serves them and is "
    "gone when idle") {
  TempDir runtime;
  ZeroConfig zero(runtime.path());
  const std::string dir = runtime.path() + "/fastmd";

  std::optional<fastmd::proto::Result<std::unique_ptr<Client>>> first, second;
  std::thread a([&] { first.emplace(Client::connect(ClientOptions{.name = "locator-a"})); });
  std::thread b([&] { second.emplace(Client::connect(ClientOptions{.name = "locator-b"})); });
  a.join();
  b.join();
  REQUIRE(first->ok());
  REQUIRE(second->ok());

  const pid_t daemon = pid_in(dir + "/ipcd.sock.lock");
  REQUIRE(daemon > 0);
  CHECK(alive(daemon));
  struct stat info {};
  REQUIRE(::stat(dir.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0700);
  // Each start truncates the log: one "listening" line and no refusal mean one daemon started.
  std::ifstream log(dir + "/ipcd.log");
  const std::string text{std::istreambuf_iterator<char>(log), {}};
  CHECK(text.find("listening on " + dir + "/ipcd.sock") != std::string::npos);
  CHECK(text.find("another fastmd-ipcd") == std::string::npos);

  // The built-in markdown pool serves them; its worker does not keep the daemon up later.
  auto html =
      first->value()->call("transform", fastmd::proto::as_bytes("# Hi\n"), {.timeout = 20s});
  REQUIRE(html.ok());
  CHECK(html->text() == "<h1>Hi</h1>\n");

  // Still shared while clients are connected, past the idle timeout.
  std::this_thread::sleep_for(1500ms);
  CHECK(alive(daemon));
  auto third = fastmd::ipc::detail::locate_daemon({});
  REQUIRE(third.ok());
  CHECK(third->source == fastmd::ipc::detail::DaemonSource::user_running);

  first->value().reset();
  second->value().reset();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (alive(daemon) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK_FALSE(alive(daemon));
  CHECK(entries_in(runtime.path()) == 0);
  CHECK(shm_objects_of(daemon) == 0);
}

TEST_CASE("a per-user daemon whose runtime directory was removed under it still exits when idle") {
  TempDir runtime;
  ZeroConfig zero(runtime.path());
  auto client = Client::connect(ClientOptions{.name = "locator-removed-dir"});
  REQUIRE(client.ok());
  const pid_t daemon = pid_in(runtime.path() + "/fastmd/ipcd.sock.lock");
  REQUIRE(daemon > 0);
  client->reset();
  // What a cleaned /tmp (or a test's removed temporary directory) does to it.
  std::filesystem::remove_all(runtime.path());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (alive(daemon) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK_FALSE(alive(daemon));
}

TEST_CASE("auto refuses a per-user directory another mode could let others into, saying why") {
  TempDir runtime;
  ZeroConfig zero(runtime.path());
  const std::string dir = runtime.path() + "/fastmd";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  REQUIRE(::chmod(dir.c_str(), 0755) == 0);

  auto client = Client::connect(ClientOptions{.name = "locator-refused"});
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == Errc::permission_denied);
  CHECK_THAT(client.error().message, Catch::Contains(dir + " has mode 0755, not 0700"));

  auto daemon = fastmd::test::run_program("fastmd-ipcd", {"--user"});
  CHECK(daemon.exit_code == 1);
  CHECK_THAT(daemon.output, Catch::Contains("has mode 0755, not 0700"));
}

TEST_CASE("a configured socket is used as it is: no per-user daemon is started for it") {
  TempDir runtime;
  ZeroConfig zero(runtime.path());
  ScopedEnv socket("FASTMD_IPC_SOCKET", runtime.path() + "/elsewhere.sock");
  auto client = Client::connect(ClientOptions{.name = "locator-configured"});
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == Errc::daemon_unreachable);
  CHECK(entries_in(runtime.path()) == 0);
}

TEST_CASE("FASTMD_IPC_ROLLOUT=30 sends about 30 % of processes to fast, each stably") {
  ScopedEnv rollout("FASTMD_IPC_ROLLOUT", "30");
  constexpr int kProcesses = 1000;
  constexpr int kLanes = 8;  // processes started side by side: the run costs ~10 s of CPU in all
  std::atomic<int> fast = 0;
  std::atomic<int> legacy = 0;
  std::vector<std::string> odd;
  std::mutex odd_mutex;
  std::vector<std::thread> lanes;
  for (int lane = 0; lane < kLanes; ++lane) {
    lanes.emplace_back([&] {
      for (int i = 0; i < kProcesses / kLanes; ++i) {
        auto probe = fastmd::test::run_program("fastmd-test-rollout-probe", {});
        if (probe.exit_code == 0 && probe.output == "fast\n") {
          ++fast;
        } else if (probe.exit_code == 0 && probe.output == "legacy\n") {
          ++legacy;
        } else {
          std::lock_guard lock(odd_mutex);
          odd.push_back(probe.output);
        }
      }
    });
  }
  for (auto& lane : lanes) lane.join();
  INFO("a probe said: " << (odd.empty() ? std::string("-") : odd.front()));
  CHECK(odd.empty());
  REQUIRE(fast + legacy == kProcesses);
  // Binomial(1000, 0.3): mean 300, sigma sqrt(1000 * 0.3 * 0.7) = 14.5; allow 5 sigma.
  const double sigma = std::sqrt(kProcesses * 0.3 * 0.7);
  INFO("fast " << fast << ", legacy " << legacy);
  CHECK(std::abs(fast.load() - 300) <= 5 * sigma);
}

TEST_CASE("FASTMD_IPC_ROLLOUT that is not 0 to 100 is an error naming the variable") {
  for (const char* bad : {"abc", "101", "-1", "30%", "3 0"}) {
    ScopedEnv rollout("FASTMD_IPC_ROLLOUT", bad);
    auto probe = fastmd::test::run_program("fastmd-test-rollout-probe", {});
    CHECK_THAT(probe.output,
               Catch::StartsWith("error: FASTMD_IPC_ROLLOUT must be an integer from 0 to 100"));
  }
  for (const char* edge : {"0", "100"}) {
    ScopedEnv rollout("FASTMD_IPC_ROLLOUT", edge);
    auto probe = fastmd::test::run_program("fastmd-test-rollout-probe", {});
    CHECK(probe.output == (std::string(edge) == "0" ? "legacy\n" : "fast\n"));
  }
}
