// pool_spec.hpp — one worker pool as configured by a `[[pool]]` table of fastmd-ipcd's config
// file: its name, the command that starts a worker, its methods (or none: learned from the
// first worker's hello), how many workers it keeps and may start, when it starts them, when it
// stops or recycles one, and how it restarts crashed ones (pool_spec_reader.hpp reads it).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fastmd::daemon {

enum class PoolStart : std::uint8_t {
  on_demand,  // `min` workers at daemon start, more when a client waits for a method
  at_start,   // max(min, 1) workers at daemon start
};

struct PoolSpec {
  std::string name;
  std::vector<std::string> command;  // argv; command[0] resolved to an absolute path
  std::vector<std::string> methods;  // empty: learned from the first worker's hello
  std::uint32_t min = 0;
  std::uint32_t max = 0;     // resolved: "cores" is the number of online CPUs
  bool max_is_cores = true;  // how `max` was written (kept for the effective config)
  PoolStart start = PoolStart::on_demand;
  std::uint32_t idle_stop_s = 300;  // 0: never
  std::uint64_t max_requests = 0;   // 0: never
  std::chrono::milliseconds backoff_first{100};
  std::chrono::milliseconds backoff_max{10000};
  std::uint32_t crash_loop_failures = 5;
  std::chrono::seconds crash_loop_within{60};

  /// Workers started when the daemon starts (or the pool is added).
  std::uint32_t initial_workers() const {
    return start == PoolStart::at_start ? std::max<std::uint32_t>(min, 1) : min;
  }
  bool operator==(const PoolSpec&) const = default;
};

/// The specs as `[[pool]]` tables, suitable as a config file.
std::string pool_specs_toml(const std::vector<PoolSpec>& specs);

/// The keys a `[[pool]]` table takes, for --help.
std::string_view pool_keys_help();

}  // namespace fastmd::daemon
