// status.hpp — the ipc.status report (PROTOCOL.md §3.4): the daemon's identity, every session
// with its role, credentials, methods and accounting, the event counters, the limits in force
// and the shared-memory pools, as one MessagePack map.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "broker.hpp"
#include "fastmd/proto/codec.hpp"

namespace fastmd::daemon {

/// What the status report needs besides the broker.
struct DaemonFacts {
  std::string version;
  pid_t pid = 0;
  std::chrono::steady_clock::time_point started;
  std::string socket_path;
  std::uint64_t dropped_for_emfile = 0;
  /// Writes the `pools` value (an array); absent: an empty array.
  std::function<void(proto::Packer&)> write_pools;
  /// Writes the `worker_pools` value (an array); absent: an empty array.
  std::function<void(proto::Packer&)> write_worker_pools;
};

/// Encodes the ipc.status result map.
proto::ByteBuffer encode_status(const Broker& broker, const DaemonFacts& facts);

}  // namespace fastmd::daemon
