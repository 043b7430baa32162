// memory/pools.hpp — the daemon's shared memory: a pool of fixed-size segments created and
// pre-faulted at start, one leased to each session on its handshake. When the session ends
// (normally or by crash: the daemon sees EOF and drops the lease) the segment's memory is
// freed and its slot gets a fresh object with the generation bumped: an object is leased once,
// so former holders can neither read nor write the next owner's memory, nor spoil the slot by
// changing seals or truncating (docs/shm.md). Layout of a segment: fastmd/shm/segment.hpp.
//
//     auto pools = Pools::create(options);                  // refuses when memory is short
//     if (auto lease = pools->lease(session_id, peer_uid)) {
//       reply.segment = lease->info();                       // and attach lease->fd()
//       session.segment = std::move(*lease);                 // returned when the session ends
//     }
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fastmd/proto/codec.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::daemon {

enum class PoolBacking {
  memfd,  // anonymous memfds sealed against shrink/grow (Linux; the default)
  shm     // named objects /dev/shm/fastmd-<uid>-<daemon pid>-<n>, mode 0600 (portable)
};

/// "memfd" / "shm"; INVALID_FIELD for anything else.
proto::Result<PoolBacking> parse_pool_backing(std::string_view name);
std::string_view pool_backing_name(PoolBacking backing);

inline constexpr std::uint64_t kMiB = 1024 * 1024;

struct PoolOptions {
  std::uint64_t pool_size = 32 * kMiB;    // 10 MiB .. 512 MiB
  std::uint64_t segment_size = 8 * kMiB;  // a multiple of 4 KiB, >= 64 KiB, <= pool_size
  PoolBacking backing = PoolBacking::memfd;
  bool huge_pages = false;  // madvise(MADV_HUGEPAGE) on the segments (see docs/shm.md)
  std::uint32_t max_segments_per_uid = 0;  // 0: no per-uid limit below the pool's size
  std::string shm_dir = "/dev/shm";        // where the shm backing's objects appear
};

inline constexpr std::uint64_t kMinPoolSize = 10 * kMiB;
inline constexpr std::uint64_t kMaxPoolSize = 512 * kMiB;

/// Checks the options and that the machine can hold the pool: enough available memory
/// (MemAvailable, and the cgroup's memory.max when set) and, for the shm backing, enough
/// free space in shm_dir. The message says which limit is short and by how much.
proto::Status check_pool_capacity(const PoolOptions& options);

/// Counters for `ipc.status` and tests.
struct PoolStats {
  PoolBacking backing = PoolBacking::memfd;
  std::uint64_t segment_size = 0;
  std::uint32_t segments = 0;         // in the pool
  std::uint32_t segments_in_use = 0;  // leased now
  std::uint64_t bytes = 0;            // segments * segment_size
  std::uint64_t bytes_in_use = 0;     // leased bytes
  std::uint64_t leases = 0;           // segments handed out since start
  std::uint64_t reclaims = 0;         // segments returned (session ended, crash included)
  std::uint64_t exhausted = 0;        // sessions that got no segment: pool empty
  std::uint64_t quota_refused = 0;    // sessions that got no segment: per-uid/session quota
};

class Pools;

/// One session's hold on one segment. Move-only; destroying it returns the segment to the
/// pool: its pages are freed (former mappings read zeroes), a fresh object replaces it and the
/// slot's generation is bumped, so handles into the old generation are refused
/// (SHM_STALE_GENERATION) by every reader.
class SegmentLease {
 public:
  SegmentLease(SegmentLease&& other) noexcept;
  SegmentLease& operator=(SegmentLease&& other) noexcept;
  SegmentLease(const SegmentLease&) = delete;
  SegmentLease& operator=(const SegmentLease&) = delete;
  ~SegmentLease();

  /// {segment, size, generation} for the hello reply and introductions.
  proto::SegmentInfo info() const;
  /// The segment's memfd (owned by the pool) to attach with SCM_RIGHTS.
  int fd() const;
  std::uint64_t session() const { return session_; }

 private:
  friend class Pools;
  struct State;
  SegmentLease(std::shared_ptr<State> state, std::uint32_t slot, std::uint64_t session)
      : state_(std::move(state)), slot_(slot), session_(session) {}

  std::shared_ptr<State> state_;
  std::uint32_t slot_ = 0;  // index into the pool's slots (segment id - 1)
  std::uint64_t session_ = 0;
};

class Pools {
 public:
  /// Validates the options, checks capacity, creates and pre-faults (fallocate) every segment
  /// (sealed memfds, or named objects O_EXCL 0600). Errors say what to change.
  static proto::Result<Pools> create(const PoolOptions& options);

  Pools(Pools&&) noexcept = default;
  Pools& operator=(Pools&&) noexcept = default;
  ~Pools();

  /// A free segment for `session` of `uid`, or nullopt when the pool is exhausted or a quota
  /// (one segment per session, max_segments_per_uid) is reached; both are counted. The peer
  /// then sends payloads inline or by one-off memfd.
  std::optional<SegmentLease> lease(std::uint64_t session, uid_t uid);

  PoolStats stats() const;
  /// Writes the `pools` array of the ipc.status result (one map per pool).
  void write_status(proto::Packer& packer) const;

 private:
  explicit Pools(std::shared_ptr<SegmentLease::State> state) : state_(std::move(state)) {}
  std::shared_ptr<SegmentLease::State> state_;
};

/// Removes `<shm_dir>/fastmd-<uid>-<pid>-<n>` objects owned by `uid` whose daemon pid is
/// no longer alive (left by a daemon killed with SIGKILL). Never touches another uid's
/// objects, a live process's, or names of another shape. Returns how many were removed.
proto::Result<std::size_t> cleanup_stale_shm_objects(uid_t uid,
                                                     const std::string& shm_dir = "/dev/shm");

}  // namespace fastmd::daemon
