// The strict reader of `[[pool]]` tables (see pool_spec_reader.hpp).
#include "pools/pool_spec_reader.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace fastmd::daemon {

namespace {

constexpr std::array<std::string_view, 10> kKeys = {
    "name",        "command",      "methods",
    "min",         "max",          "start",
    "idle-stop-s", "max-requests", "restart-backoff-ms",
    "crash-loop"};

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

/// argv[0] as an absolute path: itself when absolute, else the first executable on PATH.
std::optional<std::string> resolve_program(const std::string& program) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    if (program.front() != '/') return std::nullopt;  // relative to what? the daemon's cwd varies
    return ::access(program.c_str(), X_OK) == 0 ? std::optional(program) : std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty() || dir.front() != '/') continue;
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

/// Reads one table, reporting problems with `where_` ("pool[0]" or "pool 'markdown'").
class TableReader {
 public:
  TableReader(const toml::table& table, std::string label, const PoolProblem& problem)
      : table_(table), label_(std::move(label)), problem_(problem) {}

  std::optional<PoolSpec> read() {
    PoolSpec spec;
    read_name(spec);  // first: the other problems name the pool
    for (auto&& [key, node] : table_) {
      const std::string name(key.str());
      if (std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end()) {
        std::string keys;
        for (std::string_view each : kKeys) keys += (keys.empty() ? "" : ", ") + std::string(each);
        failed_ = true;
        problem_(key.source().begin,
                 label_ + ": unknown key \"" + name + "\" (a [[pool]] takes: " + keys + ")");
      }
    }
    read_command(spec);
    read_methods(spec);
    spec.min = read_uint("min", spec.min, 0, 4096);
    read_max(spec);
    read_start(spec);
    spec.idle_stop_s = read_uint("idle-stop-s", spec.idle_stop_s, 0, 365u * 24 * 3600);
    spec.max_requests =
        read_uint("max-requests", spec.max_requests, 0, std::numeric_limits<std::int64_t>::max());
    read_backoff(spec);
    read_crash_loop(spec);
    if (failed_) return std::nullopt;
    return spec;
  }

 private:
  void fail(toml::source_position where, const std::string& what) {
    failed_ = true;
    problem_(where, label_ + "." + what);
  }
  void fail_at(const toml::node& node, const std::string& key, const std::string& what) {
    fail(node.source().begin, key + ": " + what);
  }

  void read_name(PoolSpec& spec) {
    const toml::node* node = table_.get("name");
    if (!node) return fail(table_.source().begin, "name: missing (every [[pool]] needs a name)");
    const auto* text = node->as_string();
    if (!text || !valid_name(text->get())) {
      return fail_at(*node, "name", "must be a string of 1 to 32 characters a-z, 0-9 or '-'");
    }
    spec.name = text->get();
    label_ = "pool '" + spec.name + "'";
  }

  void read_command(PoolSpec& spec) {
    const toml::node* node = table_.get("command");
    if (!node) return fail(table_.source().begin, "command: missing (the worker's argv)");
    const toml::array* items = node->as_array();
    if (!items || items->empty()) {
      return fail_at(*node, "command", "must be a non-empty array of strings (the argv)");
    }
    for (const toml::node& item : *items) {
      const auto* text = item.as_string();
      if (!text) return fail_at(item, "command", "every element must be a string");
      spec.command.push_back(text->get());
    }
    auto program = resolve_program(spec.command.front());
    if (!program) {
      return fail_at(
          *node, "command",
          "\"" + spec.command.front() + "\" is not an executable absolute path nor found on PATH");
    }
    spec.command.front() = *program;
  }

  void read_methods(PoolSpec& spec) {
    const toml::node* node = table_.get("methods");
    if (!node) return;
    const toml::array* items = node->as_array();
    if (!items) return fail_at(*node, "methods", "must be an array of method names");
    std::set<std::string> unique;
    for (const toml::node& item : *items) {
      const auto* text = item.as_string();
      if (!text || text->get().empty() || text->get().size() > 255) {
        return fail_at(item, "methods", "every element must be a method name (1-255 bytes)");
      }
      unique.insert(text->get());
    }
    spec.methods.assign(unique.begin(), unique.end());
  }

  template <class Int>
  Int read_uint(const std::string& key, Int fallback, std::int64_t low, std::int64_t high) {
    const toml::node* node = table_.get(key);
    if (!node) return fallback;
    const auto* value = node->as_integer();
    if (!value || value->get() < low || value->get() > high) {
      fail_at(*node, key,
              "must be an integer from " + std::to_string(low) + " to " + std::to_string(high));
      return fallback;
    }
    return static_cast<Int>(value->get());
  }

  void read_max(PoolSpec& spec) {
    const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    spec.max = static_cast<std::uint32_t>(std::max(1L, cores));
    const toml::node* node = table_.get("max");
    if (node && node->is_string()) {
      if (node->as_string()->get() != "cores") {
        return fail_at(*node, "max", "must be \"cores\" or an integer >= 1");
      }
    }
    if (!node || node->is_string()) {
      spec.max = std::max(spec.max, spec.min);  // "cores", but at least min
    } else {
      spec.max = read_uint("max", spec.max, 1, 4096);
      spec.max_is_cores = false;
    }
    if (spec.max < spec.min) {
      fail_at(node ? *node : table_, "max",
              "(" + std::to_string(spec.max) + ") must not be below min (" +
                  std::to_string(spec.min) + ")");
    }
  }

  void read_start(PoolSpec& spec) {
    const toml::node* node = table_.get("start");
    if (!node) return;
    const auto* text = node->as_string();
    if (text && text->get() == "on-demand") {
      spec.start = PoolStart::on_demand;
    } else if (text && text->get() == "at-start") {
      spec.start = PoolStart::at_start;
    } else {
      fail_at(*node, "start", "must be \"on-demand\" or \"at-start\"");
    }
  }

  void read_backoff(PoolSpec& spec) {
    const toml::node* node = table_.get("restart-backoff-ms");
    if (!node) return;
    const toml::array* items = node->as_array();
    const auto ms = [&](std::size_t i) -> std::int64_t {
      const auto* value = items->get(i)->as_integer();
      return value ? value->get() : -1;
    };
    if (!items || items->size() != 2 || ms(0) < 1 || ms(1) < ms(0) || ms(1) > 3600000) {
      return fail_at(*node, "restart-backoff-ms",
                     "must be [first, maximum]: integers, 1 <= first <= maximum <= 3600000");
    }
    spec.backoff_first = std::chrono::milliseconds(ms(0));
    spec.backoff_max = std::chrono::milliseconds(ms(1));
  }

  void read_crash_loop(PoolSpec& spec) {
    const toml::node* node = table_.get("crash-loop");
    if (!node) return;
    const toml::table* table = node->as_table();
    if (!table) return fail_at(*node, "crash-loop", "must be { failures = N, within-s = T }");
    for (auto&& [key, value] : *table) {
      if (key.str() != "failures" && key.str() != "within-s") {
        fail(key.source().begin, "crash-loop: unknown key \"" + std::string(key.str()) +
                                     "\" (it takes failures and within-s)");
      }
    }
    TableReader inner(*table, label_ + ".crash-loop", problem_);
    spec.crash_loop_failures = inner.read_uint("failures", spec.crash_loop_failures, 1, 1000);
    spec.crash_loop_within = std::chrono::seconds(
        inner.read_uint<std::int64_t>("within-s", spec.crash_loop_within.count(), 1, 24 * 3600));
    failed_ = failed_ || inner.failed_;
  }

  const toml::table& table_;
  std::string label_;
  const PoolProblem& problem_;
  bool failed_ = false;
};

}  // namespace

std::vector<PoolSpec> read_pool_specs(const toml::node& pools, const PoolProblem& problem) {
  std::vector<PoolSpec> specs;
  if (!pools.is_array_of_tables()) {
    problem(pools.source().begin,
            "pool must be written as [[pool]] tables (one per worker pool), not a single value");
    return specs;
  }
  std::set<std::string> names;
  std::size_t index = 0;
  for (const toml::node& each : *pools.as_array()) {
    auto spec =
        TableReader(*each.as_table(), "pool[" + std::to_string(index++) + "]", problem).read();
    if (!spec) continue;
    if (!names.insert(spec->name).second) {
      problem(each.source().begin, "pool '" + spec->name + "'.name: given to two pools");
      continue;
    }
    specs.push_back(std::move(*spec));
  }
  return specs;
}

}  // namespace fastmd::daemon
