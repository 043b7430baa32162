// Lifecycle and operations: SIGTERM drains and exits 0, SIGHUP reloads, one daemon per socket
// (stale socket replaced, live one refused), --check-config, fastmd-ipcctl status.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <rapidjson/document.h>

#include "daemon_process.hpp"
#include "fastmd/platform/capabilities.hpp"
#include "peer_checks.hpp"

using namespace fastmd;
using namespace fastmd::test;

TEST_CASE("the socket is 0600 in a 0700 directory") {
  TempDir dir;
  DaemonProcess daemon({}, dir.path() + "/run/ipcd.sock");
  struct stat info {};
  REQUIRE(::stat((dir.path() + "/run").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);
  REQUIRE(::stat(daemon.socket_path().c_str(), &info) == 0);
  CHECK(S_ISSOCK(info.st_mode));
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("SIGTERM drains the sessions and exits 0") {
  DaemonProcess daemon;
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({})));
  REQUIRE(::kill(daemon.pid(), SIGTERM) == 0);
  auto shutdown = client.receive_notification(proto::kShutdown);
  REQUIRE(shutdown);
  CHECK(shutdown->body_as<proto::Shutdown>().reason.find("SIGTERM") != std::string::npos);
  CHECK(client.wait_closed());
  CHECK(daemon.wait_exit(10s) == 0);
  CHECK(daemon.wait_for_notification("STOPPING=1", 1s));
  CHECK(::access(daemon.socket_path().c_str(), F_OK) != 0);  // its socket file is removed
}

TEST_CASE("SIGHUP reloads the log level and limits from the config file") {
  TempDir dir;
  const std::string config = dir.path() + "/ipcd.toml";
  write_file(config, "log-level = \"info\"\nmax-sessions-per-uid = 8\n");
  DaemonProcess daemon({"--config", config});
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  CHECK(StatusReport(observer.status()).number("limits.max_sessions_per_uid") == 8);

  write_file(config, "log-level = \"debug\"\nmax-sessions-per-uid = 1\n");
  REQUIRE(::kill(daemon.pid(), SIGHUP) == 0);
  REQUIRE(daemon.wait_for_notification("RELOADING=1"));
  REQUIRE(daemon.wait_for_log("SIGHUP: reloaded log level (debug) and limits"));
  CHECK(StatusReport(observer.status()).number("limits.max_sessions_per_uid") == 1);
  auto second = RawPeer::connect(daemon.socket_path());
  require_error(second.hello(client_hello({})), proto::Errc::quota_exceeded);

  SECTION("a broken config file keeps the running configuration") {
    write_file(config, "max-sessions-per-uid = \"many\"\n");
    REQUIRE(::kill(daemon.pid(), SIGHUP) == 0);
    REQUIRE(daemon.wait_for_log("SIGHUP: keeping the running configuration: " + config +
                                ":1:1: max-sessions-per-uid must be an integer, not a string"));
    CHECK(StatusReport(observer.status()).number("limits.max_sessions_per_uid") == 1);
  }
  SECTION("a misspelt key keeps the running configuration, and the log says where and what") {
    write_file(config, "max-sessions-per-uid = 8\nmax-sesions = 100\n");
    REQUIRE(::kill(daemon.pid(), SIGHUP) == 0);
    REQUIRE(daemon.wait_for_log("SIGHUP: keeping the running configuration: " + config +
                                ":2:1: unknown key \"max-sesions\" (did you mean max-sessions?)"));
    CHECK(StatusReport(observer.status()).number("limits.max_sessions_per_uid") == 1);
    // The daemon goes on serving.
    auto third = RawPeer::connect(daemon.socket_path());
    require_error(third.hello(client_hello({})), proto::Errc::quota_exceeded);
  }
}

TEST_CASE("a stale socket of a dead daemon is replaced and a live daemon is not") {
  TempDir dir;
  const std::string path = dir.path() + "/ipcd.sock";
  {
    // A socket file nobody listens on, as a killed daemon leaves behind.
    platform::UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(::bind(stale.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  }
  DaemonProcess daemon({}, path);
  CHECK(daemon.wait_for_log("replaced the stale socket"));
  auto peer = RawPeer::connect(path);
  require_welcome(peer.hello(client_hello({})));

  const CommandResult second = run_program("fastmd-ipcd", {"--socket", path});
  CHECK(second.exit_code == 1);
  CHECK(second.output.find("another fastmd-ipcd (pid " + std::to_string(daemon.pid()) +
                           ") is serving") != std::string::npos);

  // After a crash (SIGKILL) the lock is released with the process: a new daemon takes over.
  CHECK(daemon.stop(SIGKILL) == 128 + SIGKILL);
  DaemonProcess successor({}, path);
  auto again = RawPeer::connect(path);
  require_welcome(again.hello(client_hello({})));
}

TEST_CASE(
    "the --check-config option prints the effective configuration and bad values are refused") {
  TempDir dir;
  const std::string config = dir.path() + "/ipcd.toml";
  write_file(config, "# a comment\npool-size-mib = 64\nmax-sessions = 100\n");
  const CommandResult ok =
      run_program("fastmd-ipcd", {"--config", config, "--max-sessions-per-uid", "7", "--allow-uid",
                                  "1001", "--allow-uid", "1002", "--huge-pages", "--check-config"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("pool-size-mib = 64") != std::string::npos);
  CHECK(ok.output.find("max-sessions = 100") != std::string::npos);
  CHECK(ok.output.find("max-sessions-per-uid = 7") != std::string::npos);
  CHECK(ok.output.find("allow-uid = [1001, 1002]") != std::string::npos);
  CHECK(ok.output.find("huge-pages = true") != std::string::npos);

  // The printed configuration is itself a valid config file, read back the same.
  write_file(config, ok.output);
  const CommandResult again = run_program("fastmd-ipcd", {"--config", config, "--check-config"});
  CHECK(again.exit_code == 0);
  CHECK(again.output == ok.output);
  // So is the commented example that ships with the units.
  CHECK(run_program("fastmd-ipcd",
                    {"--config", std::string(FASTMD_SOURCE_DIR) + "/systemd/fastmd-ipcd.toml",
                     "--check-config"})
            .exit_code == 0);

  const CommandResult too_small =
      run_program("fastmd-ipcd", {"--pool-size-mib", "4", "--check-config"});
  CHECK(too_small.exit_code != 0);
  CHECK(too_small.output.find("pool-size-mib") != std::string::npos);

  const CommandResult help = run_program("fastmd-ipcd", {"--help"});
  CHECK(help.exit_code == 0);
  for (const char* option : {"--config", "--socket", "--log-level", "--allow-uid", "--allow-gid",
                             "--handshake-timeout-ms", "--no-worker-wait-ms",
                             "--max-queued-bytes-per-session", "--pool-size-mib", "--version"}) {
    CHECK(help.output.find(option) != std::string::npos);
  }
}

TEST_CASE("fastmd-ipcctl status shows sessions, methods and counters, as text and JSON") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  require_welcome(worker.hello(worker_hello({"transform"}, "md-worker")));
  auto client = RawPeer::connect(daemon.socket_path());
  require_welcome(client.hello(client_hello({"transform"}, "web-app")));

  const CommandResult text =
      run_program("fastmd-ipcctl", {"status", "--socket", daemon.socket_path()});
  INFO(text.output);
  CHECK(text.exit_code == 0);
  CHECK(text.output.find("md-worker") != std::string::npos);
  CHECK(text.output.find("transformx1") != std::string::npos);
  CHECK(text.output.find("web-app") != std::string::npos);
  CHECK(text.output.find("introductions: 1") != std::string::npos);

  const CommandResult json =
      run_program("fastmd-ipcctl", {"status", "--json", "--socket", daemon.socket_path()});
  CHECK(json.exit_code == 0);
  rapidjson::Document report;
  report.Parse(json.output.c_str());
  REQUIRE_FALSE(report.HasParseError());
  CHECK(report["pid"].GetUint64() == static_cast<std::uint64_t>(daemon.pid()));
  CHECK(report["sessions_total"].GetUint64() == 3);  // the worker, the client and ipcctl
  CHECK(report["counters"]["introductions"].GetUint64() == 1);
  // The platform layer in use, so a degraded (posix) build is visible (docs/platforms.md).
  const fastmd::platform::Capabilities& platform = fastmd::platform::capabilities();
  CHECK(std::string(report["platform"]["name"].GetString()) == platform.name);
  CHECK(std::string(report["platform"]["memory_backing"].GetString()) == platform.memory_backing);
  CHECK(report["platform"]["sealing"].GetBool() == platform.sealing);
  CHECK(std::string(report["platform"]["poller"].GetString()) == platform.poller);
  CHECK(std::string(report["platform"]["liveness"].GetString()) == platform.liveness);
  CHECK(std::string(report["platform"]["credentials"].GetString()) == platform.credentials);
  CHECK(text.output.find(std::string("platform: ") + platform.name +
                         " (memory: " + platform.memory_backing) != std::string::npos);
  CHECK(text.output.find(std::string("; poller: ") + platform.poller +
                         "; liveness: " + platform.liveness) != std::string::npos);

  const CommandResult unreachable =
      run_program("fastmd-ipcctl", {"status", "--socket", daemon.directory() + "/nothing.sock"});
  CHECK(unreachable.exit_code == 1);
  CHECK(unreachable.output.find("DAEMON_UNREACHABLE") != std::string::npos);
}
