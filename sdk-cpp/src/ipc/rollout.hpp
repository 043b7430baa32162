// rollout.hpp — gradual rollout of the fast path: FASTMD_IPC_ROLLOUT=N (0–100) makes `auto`
// choose the fast transport for N % of client processes and legacy for the rest. Each process
// falls in one of 100 buckets, a hash of its pid and its start time (/proc/self/stat), so its
// choice is the same for every connect it makes and differs between processes; raising N
// only moves processes from legacy to fast. The Node SDK reaches it through the addon.
#pragma once

#include <string>
#include <string_view>

#include "fastmd/proto/result.hpp"

namespace fastmd::ipc::detail {

/// The environment variable holding the rollout percentage.
inline constexpr std::string_view kRolloutEnv = "FASTMD_IPC_ROLLOUT";

/// This process's bucket, 0–99: the same for the life of the process.
unsigned rollout_bucket();

struct RolloutDecision {
  bool fast = true;
  /// Why legacy was chosen (empty when fast), for client.transport's reporting.
  std::string reason;
};

/// The decision for this process from $FASTMD_IPC_ROLLOUT: fast when unset or empty, else
/// fast when rollout_bucket() < N. INVALID_FIELD naming the variable when it is not an
/// integer from 0 to 100.
proto::Result<RolloutDecision> rollout_decision();

}  // namespace fastmd::ipc::detail
