// The command lines of fastmd-ipcctl and fastmd-ipcd: a missing or unknown command is answered
// with the list of commands and exit status 2; --version and -h/--help work everywhere.
#include "daemon_process.hpp"
#include "peer_checks.hpp"

using namespace fastmd::test;

namespace {

void require_command_list(const CommandResult& result, const std::string& problem) {
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK(result.output.find("fastmd-ipcctl: " + problem + "; the commands are:\n") !=
        std::string::npos);
  CHECK(result.output.find("  status    sessions, workers and their methods") != std::string::npos);
  CHECK(result.output.find("Run 'fastmd-ipcctl COMMAND --help'") != std::string::npos);
}

}  // namespace

TEST_CASE("fastmd-ipcctl without a command lists the commands and exits 2") {
  require_command_list(run_program("fastmd-ipcctl", {}), "a command is required");
  require_command_list(run_program("fastmd-ipcctl", {"--json"}), "a command is required");
}

TEST_CASE("fastmd-ipcctl with an unknown command names it, lists the commands and exits 2") {
  require_command_list(run_program("fastmd-ipcctl", {"stats"}), "unknown command 'stats'");
  require_command_list(run_program("fastmd-ipcctl", {"--json", "stauts"}),
                       "unknown command 'stauts'");
}

TEST_CASE("fastmd-ipcctl and fastmd-ipcd answer --version and -h/--help, also after a command") {
  const std::string version = std::string(" ") + FASTMD_VERSION + "\n";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, std::vector<std::string>{"status", "--version"}}) {
    const CommandResult result = run_program("fastmd-ipcctl", args);
    CHECK(result.exit_code == 0);
    CHECK(result.output == "fastmd-ipcctl" + version);
  }
  const CommandResult daemon_version = run_program("fastmd-ipcd", {"--version"});
  CHECK(daemon_version.exit_code == 0);
  CHECK(daemon_version.output == "fastmd-ipcd" + version);

  for (const char* help : {"-h", "--help"}) {
    const CommandResult ctl = run_program("fastmd-ipcctl", {help});
    CHECK(ctl.exit_code == 0);
    CHECK(ctl.output.find("status") != std::string::npos);
    CHECK(ctl.output.find("Exit status: 0 done, 1 the daemon could not be asked, 2 a usage "
                          "error.") != std::string::npos);
    const CommandResult status_help = run_program("fastmd-ipcctl", {"status", help});
    CHECK(status_help.exit_code == 0);
    CHECK(status_help.output.find("--socket") != std::string::npos);
    CHECK(status_help.output.find("--json") != std::string::npos);
    const CommandResult daemon_help = run_program("fastmd-ipcd", {help});
    CHECK(daemon_help.exit_code == 0);
    CHECK(daemon_help.output.find("--check-config") != std::string::npos);
  }
}
