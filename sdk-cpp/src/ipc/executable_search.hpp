// executable_search.hpp — where the SDKs find fastmd's executables (fastmd-ipcd for the
// per-user daemon): $FASTMD_BIN_DIR, then the caller's own directories (for a C++ program the
// directory of its executable; the Node SDK passes its checkout's build/bin), then every
// directory of $PATH, then /usr/local/sbin and /usr/sbin (where a daemon may be installed,
// often missing from a user's PATH). One rule for C++ and Node (through the addon).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

/// The directory of the running executable (platform::own_executable_path), or "" when the
/// platform cannot tell.
std::string own_executable_dir();

/// The path of executable `name` in the first place of the rule that has it. Otherwise
/// DAEMON_UNREACHABLE listing every place looked in, by source, and what to install.
proto::Result<std::string> find_executable(std::string_view name,
                                           const std::vector<std::string>& caller_dirs);

}  // namespace fastmd::ipc::detail
