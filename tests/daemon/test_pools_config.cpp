// The `[[pool]]` tables of the config file: each key checked for type and range and refused
// with its file:line:column and the pool and key named; a valid pool is printed back by
// --check-config with its defaults and the command resolved on PATH.
#include "daemon_process.hpp"
#include "peer_checks.hpp"
#include "worker_pools.hpp"

using namespace fastmd::test;

namespace {

CommandResult check(const TempDir& dir, const std::string& text, std::string* path_out = nullptr) {
  const std::string path = dir.path() + "/ipcd.toml";
  write_file(path, text);
  if (path_out) *path_out = path;
  return run_program("fastmd-ipcd", {"--config", path, "--check-config"});
}

}  // namespace

TEST_CASE("a valid pool is printed by --check-config with its defaults, command on PATH") {
  TempDir dir;
  const CommandResult result =
      check(dir,
            "[[pool]]\nname = \"markdown\"\ncommand = [\"sh\", \"-c\", \"exit 0\"]\n"
            "max = 3\n");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(result.output.find("[[pool]]\nname = \"markdown\"\n") != std::string::npos);
  // argv[0] resolved on PATH to an absolute path.
  CHECK(result.output.find("command = [\"/") != std::string::npos);
  CHECK(result.output.find("/sh\", \"-c\", \"exit 0\"]\n") != std::string::npos);
  CHECK(result.output.find("methods = []  # learned from the first worker's hello\n") !=
        std::string::npos);
  CHECK(result.output.find("min = 0\nmax = 3\nstart = \"on-demand\"\nidle-stop-s = 300\n"
                           "max-requests = 0\nrestart-backoff-ms = [100, 10000]\n"
                           "crash-loop = { failures = 5, within-s = 60 }\n") != std::string::npos);
}

TEST_CASE("the effective config of pools reads back as the same config") {
  TempDir dir;
  const CommandResult first = check(
      dir, pool_table("a", {"/bin/true"},
                      "methods = [\"x\", \"y\"]\nmin = 1\nmax = \"cores\"\nstart = \"at-start\"\n"
                      "idle-stop-s = 0\nmax-requests = 1000\nrestart-backoff-ms = [5, 50]\n"
                      "crash-loop = { failures = 2, within-s = 9 }\n") +
               pool_table("b", {"/bin/true"}, "max = 2\n"));
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const CommandResult second = check(dir, first.output);
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  // The first line names the resolved socket; the rest must be identical.
  CHECK(first.output.substr(first.output.find('\n')) ==
        second.output.substr(second.output.find('\n')));
}

TEST_CASE("a mistake in a [[pool]] table is refused with its place, the pool and the key") {
  struct Mistake {
    const char* what;
    std::string text;
    std::string error;
  };
  const std::string head = "[[pool]]\nname = \"md\"\ncommand = [\"/bin/true\"]\n";
  const std::vector<Mistake> mistakes = {
      {"an unknown key", head + "mni = 1\n",
       "4:1: pool 'md': unknown key \"mni\" (a [[pool]] takes: name, command, methods, min, max, "
       "start, idle-stop-s, max-requests, restart-backoff-ms, crash-loop)"},
      {"no name", "[[pool]]\ncommand = [\"/bin/true\"]\n",
       "1:1: pool[0].name: missing (every [[pool]] needs a name)"},
      {"a bad name", "[[pool]]\nname = \"Mark Down\"\ncommand = [\"/bin/true\"]\n",
       "2:8: pool[0].name: must be a string of 1 to 32 characters a-z, 0-9 or '-'"},
      {"no command", "[[pool]]\nname = \"md\"\n",
       "1:1: pool 'md'.command: missing (the worker's argv)"},
      {"a command not found", "[[pool]]\nname = \"md\"\ncommand = [\"no-such-worker-here\"]\n",
       "3:11: pool 'md'.command: \"no-such-worker-here\" is not an executable absolute path nor "
       "found on PATH"},
      {"a relative command path", "[[pool]]\nname = \"md\"\ncommand = [\"bin/worker\"]\n",
       "3:11: pool 'md'.command: \"bin/worker\" is not an executable absolute path nor found on "
       "PATH"},
      {"a string for min", head + "min = \"two\"\n",
       "4:7: pool 'md'.min: must be an integer from 0 to 4096"},
      {"max below min", head + "min = 3\nmax = 2\n",
       "5:7: pool 'md'.max: (2) must not be below min (3)"},
      {"max of zero", head + "max = 0\n", "4:7: pool 'md'.max: must be an integer from 1 to 4096"},
      {"a word for max", head + "max = \"all\"\n",
       "4:7: pool 'md'.max: must be \"cores\" or an integer >= 1"},
      {"a bad start", head + "start = \"lazy\"\n",
       "4:9: pool 'md'.start: must be \"on-demand\" or \"at-start\""},
      {"a backoff backwards", head + "restart-backoff-ms = [500, 100]\n",
       "4:22: pool 'md'.restart-backoff-ms: must be [first, maximum]: integers, 1 <= first <= "
       "maximum <= 3600000"},
      {"a crash-loop of zero failures", head + "crash-loop = { failures = 0, within-s = 5 }\n",
       "4:27: pool 'md'.crash-loop.failures: must be an integer from 1 to 1000"},
      {"an unknown crash-loop key", head + "crash-loop = { failures = 3, within = 5 }\n",
       "4:30: pool 'md'.crash-loop: unknown key \"within\" (it takes failures and within-s)"},
      {"two pools of one name", head + head, "4:1: pool 'md'.name: given to two pools"},
      {"a single [pool] table", "[pool]\nname = \"md\"\n",
       "1:1: pool must be written as [[pool]] tables (one per worker pool), not a single value"},
  };
  TempDir dir;
  for (const Mistake& mistake : mistakes) {
    INFO(mistake.what);
    std::string path;
    const CommandResult result = check(dir, mistake.text, &path);
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find("fastmd-ipcd: " + path + ":" + mistake.error) != std::string::npos);
  }
}

TEST_CASE("fastmd-ipcd --help lists the [[pool]] keys") {
  const CommandResult help = run_program("fastmd-ipcd", {"--help"});
  REQUIRE(help.exit_code == 0);
  for (const char* key : {"[[pool]]", "name", "command", "methods", "min", "max", "start",
                          "idle-stop-s", "max-requests", "restart-backoff-ms", "crash-loop"}) {
    INFO(key);
    CHECK(help.output.find(key) != std::string::npos);
  }
}
