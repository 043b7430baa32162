// config_file.hpp — the strict reader of fastmd-ipcd's TOML config file. The file is parsed
// with toml++ (syntax errors and duplicate keys are errors, with their position); its keys are
// checked against the options declared on the CLI::App, so the one declaration of an option
// is also its config key, its value type and its range check. Every problem is reported as
// `file:line:column: what`, with the nearest key suggested for a misspelt one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "fastmd/proto/result.hpp"
#include "pools/pool_spec.hpp"

namespace fastmd::daemon {

/// The config-file keys of `app`: the long names, without "--", of its configurable options
/// (--config, --help, --version and the like are command-line only: configurable(false)).
std::vector<std::string> config_keys(const CLI::App& app);

/// The key of `keys` that `misspelt` most likely means (case, '_' for '-', a few letters
/// wrong), or "" when none is close.
std::string nearest_key(std::string_view misspelt, const std::vector<std::string>& keys);

/// Reads the TOML file at `path` into the options of `app`; call it after app.parse(), so a
/// flag given on the command line wins over the file's key. Each top-level key goes to the
/// option of that name through the option's own conversion and checks. Fails with
/// INVALID_FIELD and one line per problem, in file order: a syntax error or duplicate key (the
/// parser's first), unknown keys and tables (with "did you mean ...?"), values of the wrong
/// TOML type, and values the option refuses. After a failure the options are partly set:
/// discard them. The `[[pool]]` tables (pool_spec_reader.hpp) go to `pools`.
proto::Status apply_config_file(CLI::App& app, const std::string& path,
                                std::vector<PoolSpec>& pools);

}  // namespace fastmd::daemon
