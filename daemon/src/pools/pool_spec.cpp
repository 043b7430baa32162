// Worker pool specs as TOML and in --help (see pool_spec.hpp).
#include "pools/pool_spec.hpp"

namespace fastmd::daemon {

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quoted(items[i]);
  return out + "]";
}

}  // namespace

std::string pool_specs_toml(const std::vector<PoolSpec>& specs) {
  std::string out;
  for (const PoolSpec& spec : specs) {
    out += "\n[[pool]]\n";
    out += "name = " + quoted(spec.name) + "\n";
    out += "command = " + string_array(spec.command) + "\n";
    out += "methods = " + string_array(spec.methods) +
           (spec.methods.empty() ? "  # learned from the first worker's hello\n" : "\n");
    out += "min = " + std::to_string(spec.min) + "\n";
    out += "max = " +
           (spec.max_is_cores ? "\"cores\"  # " + std::to_string(spec.max) + " here"
                              : std::to_string(spec.max)) +
           "\n";
    out += std::string("start = ") +
           (spec.start == PoolStart::at_start ? "\"at-start\"" : "\"on-demand\"") + "\n";
    out += "idle-stop-s = " + std::to_string(spec.idle_stop_s) + "\n";
    out += "max-requests = " + std::to_string(spec.max_requests) + "\n";
    out += "restart-backoff-ms = [" + std::to_string(spec.backoff_first.count()) + ", " +
           std::to_string(spec.backoff_max.count()) + "]\n";
    out += "crash-loop = { failures = " + std::to_string(spec.crash_loop_failures) +
           ", within-s = " + std::to_string(spec.crash_loop_within.count()) + " }\n";
  }
  return out;
}

std::string_view pool_keys_help() {
  return "Worker pools: the config file (only) may hold [[pool]] tables; the daemon starts, "
         "restarts and stops their workers itself, each with its control connection already "
         "connected. Keys: name (required, 1-32 of a-z 0-9 -, unique); command (required, "
         "argv array, argv[0] absolute or found on PATH); methods (optional, array: else "
         "learned from the first worker's hello); min (workers kept running, default 0); max "
         "(\"cores\", the default: the number of CPUs, at least min; or a number >= 1 and >= min); "
         "start (\"on-demand\", the "
         "default, or \"at-start\": max(min,1) at daemon start); idle-stop-s (stop a worker idle "
         "this long, down to min; 0 never; default 300); max-requests (recycle a worker after "
         "this many requests; 0 never, the default); restart-backoff-ms ([first, maximum] "
         "restart delay, doubling; default [100, 10000]); crash-loop ({ failures = 5, within-s "
         "= 60 }: that many exits within that window stop the restarts). SIGHUP applies added, "
         "removed and resized pools. See docs/operations.md, \"Running workers\".";
}

}  // namespace fastmd::daemon
