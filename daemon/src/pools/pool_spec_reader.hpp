// pool_spec_reader.hpp — the strict reader of the config file's `[[pool]]` tables: the keys of
// CONTRACT.md's "Pool config", each checked for type and range, the command resolved, and
// every problem reported at its place in the file, naming the table and the key.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "pools/pool_spec.hpp"

namespace fastmd::daemon {

/// One problem found in a `[[pool]]` table: where it is and what is wrong.
using PoolProblem = std::function<void(toml::source_position where, std::string what)>;

/// Reads the `pool` key's value (it must be an array of tables, `[[pool]]`) into specs,
/// reporting each problem through `problem` (unknown keys, wrong types, out-of-range values, a
/// command that cannot be found, duplicate names). Tables with problems are left out.
std::vector<PoolSpec> read_pool_specs(const toml::node& pools, const PoolProblem& problem);

}  // namespace fastmd::daemon
