// bench/run --quick: it runs to the end and writes latest.json of the shape docs/performance.md
// documents ({"machine":{...},"rows":[...]}, one row per measurement, numbers where numbers
// belong), plus latest.md and latest.svg; and it refuses a posix build directory that is not
// a separate posix build. Nothing here looks at how fast anything was.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

extern char** environ;

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs argv with a bounded wait; returns its exit status, or -1 when it had to be killed.
int run_bounded(std::vector<std::string> argv, std::chrono::seconds limit) {
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -2;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "fastmd-test-bench-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

TEST_CASE(
    "bench/run --quick writes latest.json, latest.md and latest.svg of the documented shape") {
  TempDir out;
  const int status = run_bounded({"node", std::string(FASTMD_SOURCE_DIR) + "/bench/run", "--quick",
                                  "--out", out.path.string(), "--bin-dir", FASTMD_BIN_DIR},
                                 std::chrono::seconds(280));
  REQUIRE(status == 0);

  rapidjson::Document doc;
  const std::string json = read_text(out.path / "latest.json");
  REQUIRE_FALSE(doc.Parse(json.c_str()).HasParseError());
  REQUIRE(doc.IsObject());
  REQUIRE(doc.HasMember("machine"));
  CHECK(doc["machine"].IsObject());
  CHECK(doc["machine"].HasMember("cpus"));
  REQUIRE(doc.HasMember("rows"));
  REQUIRE(doc["rows"].IsArray());
  REQUIRE(doc["rows"].Size() > 0);

  const std::set<std::string> numeric = {"payload_bytes",  "p50_us",          "p99_us",
                                         "p999_us",        "msgs_per_s",      "gb_per_s",
                                         "cpu_us_per_req", "syscalls_per_msg"};
  std::set<std::string> seen;  // "client transport method"
  for (const auto& row : doc["rows"].GetArray()) {
    REQUIRE(row.IsObject());
    REQUIRE(row.HasMember("client"));
    REQUIRE(row.HasMember("transport"));
    const std::string client = row["client"].GetString();
    CHECK((client == "node" || client == "cpp"));
    for (const auto& field : row.GetObject()) {
      if (numeric.count(field.name.GetString())) {
        INFO("field " << field.name.GetString());
        CHECK(field.value.IsNumber());
        CHECK(field.value.GetDouble() >= 0);
      }
    }
    if (row.HasMember("p50_us")) {
      CHECK(row.HasMember("p99_us"));
      CHECK(row.HasMember("p999_us"));
    }
    seen.insert(client + " " + row["transport"].GetString() + " " +
                (row.HasMember("method") ? row["method"].GetString() : ""));
  }
  for (const char* expected : {"cpp floor-memcpy ",
                               "cpp floor-socketpair pingpong",
                               "cpp floor-shm-spin pingpong",
                               "cpp legacy echo",
                               "cpp inline echo",
                               "cpp fast echo",
                               "cpp fast-nospin echo",
                               "cpp fast-spin echo",
                               "cpp daemon ",
                               "node legacy echo",
                               "node fast echo",
                               "node fast-nospin echo",
                               "node fast-spin echo",
                               "node fast+hog echo",
                               "node fast-nospin+hog echo",
                               "node legacy transform",
                               "node fast transform",
                               "node markdown-it transform",
                               "node fast connect",
                               "cpp md4c transform",
                               "cpp md4c-beside transform",
                               "node marked transform",
                               "node markdown-wasm transform",
                               "node piscina-wasm transform"}) {
    INFO("row " << expected);
    CHECK(seen.count(expected) == 1);
  }

  const std::string markdown = read_text(out.path / "latest.md");
  CHECK(markdown.find("| client | transport |") != std::string::npos);
  CHECK(markdown.find("## Goals (issue 7)") != std::string::npos);
  CHECK(markdown.find("## Goals (issue 13") != std::string::npos);
  // The job's-floor ratio uses the md4c row measured right after the fast 1-worker row.
  CHECK(markdown.find("md4c in process from C++ (1 thread, run right after it)") !=
        std::string::npos);
  // Issue 15's goals read rows every run has (1 and 10 MiB echoes from both clients).
  const auto large_goals = markdown.find("## Goals (issue 15");
  REQUIRE(large_goals != std::string::npos);
  CHECK(markdown.find("rows missing", large_goals) == std::string::npos);
  CHECK(read_text(out.path / "latest.svg").rfind("<svg", 0) == 0);
}

TEST_CASE(
    "bench/run refuses a --posix-bin-dir that is not a separate posix build, and writes nothing") {
  TempDir out;
  TempDir empty;
  // No programs at all; then this build's own directory, which is the primary build (and in
  // the linux build not a posix one either).
  for (const std::string& dir : {empty.path.string(), std::string(FASTMD_BIN_DIR)}) {
    INFO("--posix-bin-dir " << dir);
    const int status =
        run_bounded({"node", std::string(FASTMD_SOURCE_DIR) + "/bench/run", "--quick", "--out",
                     out.path.string(), "--bin-dir", FASTMD_BIN_DIR, "--posix-bin-dir", dir},
                    std::chrono::seconds(60));
    CHECK(status == 2);
    CHECK_FALSE(fs::exists(out.path / "latest.json"));
  }
}

TEST_CASE("bench/probe answers --help and refuses a wrong transport, size or flag before it runs") {
  const std::string probe = std::string(FASTMD_SOURCE_DIR) + "/bench/probe";
  CHECK(run_bounded({"bash", probe, "--help"}, std::chrono::seconds(10)) == 0);
  // Each refused with the usage error (2) before perf, strace or a daemon is started.
  for (const std::vector<std::string>& wrong : {std::vector<std::string>{},
                                                {"carrier-pigeon", "64"},
                                                {"fast"},
                                                {"fast", "64x"},
                                                {"fast", "64", "many"},
                                                {"fast", "64", "100", "--more"}}) {
    std::vector<std::string> argv{"bash", probe};
    argv.insert(argv.end(), wrong.begin(), wrong.end());
    INFO("bench/probe with " << wrong.size() << " arguments"
                             << (wrong.empty() ? "" : ", first " + wrong[0]));
    CHECK(run_bounded(argv, std::chrono::seconds(10)) == 2);
  }
}
