// The strict config file: each kind of mistake (unknown key or table, syntax error, duplicate
// key, wrong type, out of range) is refused with its file:line and, for a misspelt key, the key
// meant; at start nothing is bound. The documented option table matches the declared options.
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "config.hpp"
#include "config_file.hpp"
#include "daemon_process.hpp"
#include "fastmd/platform/capabilities.hpp"
#include "peer_checks.hpp"

using namespace fastmd;
using namespace fastmd::test;

namespace {

/// `fastmd-ipcd --config <file with text> --check-config`, and the file's path.
struct Checked {
  std::string path;
  CommandResult result;
};

Checked check_config(const TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/ipcd.toml";
  write_file(path, text);
  return {path, run_program("fastmd-ipcd", {"--config", path, "--check-config"})};
}

void require_refused(const Checked& checked, const std::string& error) {
  INFO(checked.result.output);
  CHECK(checked.result.exit_code == 2);
  CHECK(checked.result.output.find("fastmd-ipcd: " + checked.path + ":" + error) !=
        std::string::npos);
}

/// A mistake in a config file and the error line after `file:` that it must give.
struct Mistake {
  const char* what;
  const char* text;
  const char* error;
};

void require_each_refused(std::initializer_list<Mistake> mistakes) {
  TempDir dir;
  for (const Mistake& mistake : mistakes) {
    INFO(mistake.what);
    require_refused(check_config(dir, mistake.text), mistake.error);
  }
}

}  // namespace

TEST_CASE("a misspelt key is refused with its line and the key it most likely means") {
  require_each_refused({
      {"a letter missing", "# limits\nmax-sesions = 100\n",
       "2:1: unknown key \"max-sesions\" (did you mean max-sessions?)"},
      {"an underscore for a dash", "log_level = \"debug\"\n",
       "1:1: unknown key \"log_level\" (did you mean log-level?)"},
      {"a capital letter", "\n\nSocket = \"/tmp/x.sock\"\n",
       "3:1: unknown key \"Socket\" (did you mean socket?)"},
      {"nothing close: the message says where the keys are listed", "colour = \"blue\"\n",
       "1:1: unknown key \"colour\" (the keys are the long options of fastmd-ipcd --help, "
       "without \"--\")"},
      {"a command-line-only option", "config = \"/etc/other.toml\"\n",
       "1:1: \"config\" is a command-line option only, not a config-file key"},
  });
}

TEST_CASE("a table is refused: the options are top-level keys") {
  require_each_refused(
      {{"a [daemon] table", "max-sessions = 10\n[daemon]\nsocket = \"/tmp/x.sock\"\n",
        "2:2: unknown table [daemon]: the options are top-level keys"}});
}

TEST_CASE("a syntax error is refused with its line, never read as a value") {
  require_each_refused({
      {"a string without its closing quote", "log-level = \"info\"\nsocket = \"/tmp/x.sock\n",
       "2:22: a string is not closed: its closing quote is missing before the end of line 2"},
      {"a key without a value", "max-sessions =\n", "1:15: "},
  });
}

TEST_CASE("a key given twice is refused at its second line") {
  TempDir dir;
  const Checked checked = check_config(dir, "max-sessions = 10\n\nmax-sessions = 20\n");
  require_refused(checked, "3:");
  CHECK(checked.result.output.find("'max-sessions' (a key may be given only once)") !=
        std::string::npos);
}

TEST_CASE("a value of the wrong type is refused, naming the type the key takes") {
  require_each_refused({
      {"a string for a number", "max-sessions = \"many\"\n",
       "1:1: max-sessions must be an integer, not a string"},
      {"a number for a string", "socket = 5\n",
       "1:1: socket must be a string in quotes, not an integer"},
      {"a string for a flag", "huge-pages = \"yes\"\n",
       "1:1: huge-pages must be true or false, not a string"},
      {"an array for a single value", "pool-size-mib = [32]\n",
       "1:1: pool-size-mib takes one value, an integer, not an array"},
      {"a wrong element in an array, at its own column", "allow-uid = [1001, \"bob\"]\n",
       "1:20: allow-uid[1] must be an integer, not a string"},
      {"a value out of the option's range, with the option's own check", "pool-size-mib = 4\n",
       "1:1: pool-size-mib: Value 4 not in range 10 to 512"},
      {"a value not among the option's choices", "log-level = \"loud\"\n",
       "1:1: log-level: loud not in {trace,debug,info,warn,error,critical,off}"},
  });
}

TEST_CASE("every problem in a file is reported, in file order") {
  TempDir dir;
  const Checked checked =
      check_config(dir, "max-sesions = 1\nsocket = 5\nlog_level = \"info\"\nhuge-pages = 1\n");
  INFO(checked.result.output);
  CHECK(checked.result.exit_code == 2);
  std::size_t last = 0;
  for (const char* line :
       {":1:1: unknown key", ":2:1: socket", ":3:1: unknown key", ":4:1: huge-pages"}) {
    const std::size_t at = checked.result.output.find(checked.path + line);
    REQUIRE(at != std::string::npos);
    CHECK(at >= last);
    last = at;
  }
}

TEST_CASE("a daemon with a bad config file exits 2 at start and binds nothing") {
  TempDir dir;
  const std::string config = dir.path() + "/ipcd.toml";
  write_file(config, "max-sesions = 100\n");
  const std::string socket = dir.path() + "/run/ipcd.sock";
  const CommandResult started =
      run_program("fastmd-ipcd", {"--config", config, "--socket", socket});
  INFO(started.output);
  CHECK(started.exit_code == 2);
  CHECK(started.output.find(config + ":1:1: unknown key \"max-sesions\" (did you mean "
                                     "max-sessions?)") != std::string::npos);
  CHECK(started.output.find("listening") == std::string::npos);
  // Not even the socket's directory or lock file was created.
  CHECK(::access((dir.path() + "/run").c_str(), F_OK) != 0);
}

TEST_CASE("a valid config file is applied, flags win over it, and arrays may be empty or one id") {
  TempDir dir;
  const std::string config = dir.path() + "/ipcd.toml";
  write_file(config,
             "max-sessions = 2000 # a comment\nallow-uid = 1001\nallow-gid = []\n"
             "huge-pages = true\nlog-level = 'warn'\n");
  const CommandResult checked =
      run_program("fastmd-ipcd", {"--config", config, "--log-level", "debug", "--check-config"});
  INFO(checked.output);
  CHECK(checked.exit_code == 0);
  CHECK(checked.output.find("max-sessions = 2000\n") != std::string::npos);
  CHECK(checked.output.find("allow-uid = [1001]\n") != std::string::npos);
  CHECK(checked.output.find("allow-gid = []\n") != std::string::npos);
  CHECK(checked.output.find("huge-pages = true\n") != std::string::npos);
  CHECK(checked.output.find("log-level = \"debug\"\n") != std::string::npos);

  if (!fastmd::platform::capabilities().huge_pages) {
    // huge-pages is Linux-only (docs/platforms.md): elsewhere the daemon refuses it by name.
    CHECK_THROWS_WITH(DaemonProcess({"--config", config}), Catch::Contains("MADV_HUGEPAGE"));
    return;
  }
  DaemonProcess daemon({"--config", config});
  auto observer = RawPeer::connect(daemon.socket_path());
  require_welcome(observer.hello(observer_hello()));
  CHECK(StatusReport(observer.status()).number("limits.max_sessions") == 2000);
}

TEST_CASE("a near-miss key name finds the key it most likely means, and a far one none") {
  const std::vector<std::string> keys = {"socket", "max-sessions", "max-sessions-per-uid",
                                         "log-level"};
  CHECK(daemon::nearest_key("max-sesions", keys) == "max-sessions");
  CHECK(daemon::nearest_key("MAX_SESSIONS_PER_UID", keys) == "max-sessions-per-uid");
  CHECK(daemon::nearest_key("sockt", keys) == "socket");
  CHECK(daemon::nearest_key("loglevel", keys) == "log-level");
  CHECK(daemon::nearest_key("colour", keys).empty());
  CHECK(daemon::nearest_key("x", keys).empty());
}

namespace {

/// A row of the option table in docs/operations.md: its options, default and meaning.
struct DocumentedOption {
  std::string names;
  std::string default_value;
  std::string meaning;
};

std::map<std::string, DocumentedOption> documented_options() {
  std::ifstream file(std::string(FASTMD_SOURCE_DIR) + "/docs/operations.md");
  REQUIRE(file.good());
  std::map<std::string, DocumentedOption> rows;
  const std::regex row(R"(^\| `(-[^|]*)` \|\s*([^|]*?)\s*\|\s*(.*?)\s*\|$)");
  const std::regex long_name(R"(--([a-z0-9-]+))");
  for (std::string line; std::getline(file, line);) {
    std::smatch cells;
    if (!std::regex_match(line, cells, row)) continue;
    std::string default_value = cells[2];
    std::erase(default_value, '`');
    const DocumentedOption documented{cells[1], default_value, cells[3]};
    const std::string names = cells[1];
    for (std::sregex_iterator it(names.begin(), names.end(), long_name), end; it != end; ++it) {
      rows[(*it)[1]] = documented;
    }
  }
  return rows;
}

}  // namespace

TEST_CASE("docs/operations.md documents every option of fastmd-ipcd and no other") {
  daemon::Options options;
  CLI::App app;
  daemon::add_options(app, options);
  const std::map<std::string, DocumentedOption> documented = documented_options();

  std::set<std::string> declared;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      declared.insert(name);
      INFO("--" << name);
      const auto row = documented.find(name);
      REQUIRE(row != documented.end());
      // The default the program reports is the one the docs give.
      if (!option->get_default_str().empty()) {
        CHECK(row->second.default_value == option->get_default_str());
      }
      // Options that are not config-file keys say so.
      CHECK((row->second.meaning.find("command line only") != std::string::npos) ==
            !option->get_configurable());
    }
  }
  for (const auto& [name, row] : documented) {
    INFO("documented --" << name << " is not an option of fastmd-ipcd");
    CHECK(declared.contains(name));
  }

  // --check-config prints every key, so its output is a complete config file.
  const std::string effective = "\n" + daemon::effective_config(options);
  for (const std::string& key : daemon::config_keys(app)) {
    INFO("key " << key);
    CHECK(effective.find("\n" + key + " = ") != std::string::npos);
  }
}
