// hoarder.hpp — a client that takes a worker's shared-memory results and never releases them:
// on a direct channel a RawPeer got from the daemon's introduction, it calls `method` until
// an answer comes by one-off memfd (the worker's segment is full), keeping every block it
// got mapped and acquired, as the Node SDK keeps result Buffers in place.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fastmd/shm/segment_reader.hpp"
#include "raw_peer.hpp"

namespace fastmd::testing {

struct Hoard {
  std::unique_ptr<shm::SegmentReader> segment;  // the worker's, mapped read-only
  std::vector<shm::ReadBlock> blocks;           // acquired, never released while held
};

/// Calls `method` on `channel` (at most `max_calls` times) until an answer arrives by
/// one-off memfd; `introduction` is the one that brought the channel (its segment fd and
/// info). Throws std::runtime_error on an answer that is an error or not in shared memory.
Hoard hoard_results(test::RawPeer& channel, test::Received& introduction, const std::string& method,
                    int max_calls = 64);

}  // namespace fastmd::testing
