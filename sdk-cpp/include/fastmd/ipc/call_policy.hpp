// fastmd/ipc/call_policy.hpp — the one place of the SDKs' call and session policy numbers:
// how often a call whose worker died is sent again, how the SDKs reconnect to a restarted
// daemon, how long a handshake and a wait for a worker may take, how payloads wait for
// segment space, spin limits. The C++ Client and Worker take their defaults from here, and
// the Node addon exports the same values to JS (`addon.policy`): no SDK keeps a copy.
// docs/architecture.md ("Where each policy lives") lists them. The direct channel's limits
// (fds, answer backlogs) are in sdk-cpp/src/transport/channel_limits.hpp; the daemon's own limits
// (its no-worker wait among them) in its configuration.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "fastmd/proto/error.hpp"

namespace fastmd::ipc::policy {

/// How many times one call is sent at most, counting the first send, when the workers that
/// held it ended before answering (idempotent calls only; others fail with PEER_GONE at the
/// first loss). Bounded, so a request that crashes every worker it reaches (a poison input)
/// costs at most this many workers, not the whole pool; four covers a worker dying with the
/// call and two more deaths while it is re-sent, which the chaos tests (kill -9 every few ms)
/// never exceeded.
inline constexpr std::uint32_t kMaxSendsPerCall = 4;

/// The answer of a worker that is stopping to a call it did not run (PROTOCOL.md §3.11): the
/// client sends the call to another worker, idempotent or not (it ran nowhere), counted in
/// kMaxSendsPerCall, and sends that worker nothing new. The Node addon exports it.
inline constexpr proto::Errc kNotRunAnswer = proto::Errc::worker_stopping;

/// Bound of the `ipc.hello` handshake with the daemon (a live daemon answers in well under a
/// millisecond; two seconds tolerate a loaded machine).
inline constexpr std::chrono::milliseconds kHandshakeTimeout{2000};

/// First pause before reconnecting to a daemon that went away, doubling up to the maximum. A
/// restarted daemon listens again within tens of milliseconds, so the first attempt comes
/// soon; one attempt per second at most while it stays away costs nothing measurable.
inline constexpr std::chrono::milliseconds kReconnectMin{10};
inline constexpr std::chrono::milliseconds kReconnectMax{1000};

/// The daemon decides how long a call waits for a worker (`no_worker_wait_ms` in its hello
/// reply) and answers `ipc.want` with NO_WORKER when it is over. A client waits this much
/// longer before it fails the call with NO_WORKER itself: only a daemon that died or hangs
/// never answers, and then the call must not wait for ever.
inline constexpr std::chrono::milliseconds kDaemonAnswerMargin{1000};

/// A daemon from before `no_worker_wait_ms` (and `ipc.want`) does not say how long it lets a
/// call wait for a worker; such daemons waited 5 s, so a client waits as long for them.
inline constexpr std::chrono::milliseconds kNoWorkerWaitUnannounced{5000};

/// How long a payload written by a thread that may block waits for room in its own segment
/// before it goes by one-off memfd (a worker releases a block just after answering).
inline constexpr std::chrono::milliseconds kShmWait{50};

/// The same wait on Node's event-loop thread, which must not stall: a payload that finds no
/// room within it goes by one-off memfd. Measured: a 4 MiB payload in an 8 MiB segment went
/// one-off almost every time without any wait, at 3x the cost; 1 ms was enough.
inline constexpr std::chrono::milliseconds kShmWaitOnEventLoop{1};

/// The default spin (no spin_budget / spinUs / --spin-us given) polls at most this long per
/// wait, and not at all once recent waits took longer: a wake-up costs about 15 µs a side
/// here (a sequential 64 B call: 35 µs asleep against 2.8 µs spinning, docs/performance.md),
/// so a longer spin could cost more CPU than the wake-up it saves.
inline constexpr std::chrono::microseconds kSpinLearnedMax{50};
/// ... and at least this long while it spins at all: twice the usual wait alone misses the
/// answers the machine delays by a few µs (sequential 64 B, both sides: p90 26 µs with a
/// 1 µs floor, 4.6 µs with this one; p50 3.9 µs either way).
inline constexpr std::chrono::microseconds kSpinLearnedMin{10};

/// How often, at most, the default spin asks the scheduler whether a core is free (one read of
/// about 2 µs, platform/cpu_load.hpp): a process that starts to want the cores stops every
/// default spin of this process within a millisecond.
inline constexpr std::chrono::milliseconds kCpuLoadSampleEvery{1};

/// Node's spin before its event loop sleeps (any spinUs, the default too): answers found one
/// after another hold the loop at most this long per turn, then it runs its timers and other
/// I/O.
inline constexpr std::chrono::milliseconds kSpinHoldMax{10};

/// Bytes of the ring each side of a direct channel writes its small frames into (PROTOCOL.md
/// §5.5): 256 KiB holds about 2,500 frames of a 64 B call in flight, so a pipelining peer
/// rarely falls back to the socket, and costs at most that much resident memory per channel
/// and side. 0 in the options: socket frames only.
inline constexpr std::uint32_t kRingBytes = 256 * 1024;

/// A batch of calls (Client::call_many, Node's callMany) is written whenever this many bytes
/// of frames are encoded: the worker starts on the first calls while the rest are encoded,
/// and memory stays bounded. Measured in Node: 342–406k msgs/s against 285–357k with
/// 256 KiB writes (batches of 4,096 64 B calls).
inline constexpr std::size_t kBatchWriteBytes = 32 * 1024;

/// Node's result Buffers made in place over a worker's segment (no copy) may hold at most
/// segment size / this of one worker's segment per client; past it results are copied. A
/// quarter (2 MiB of the default 8 MiB): a program that keeps results alive leaves the worker
/// at least three quarters of its segment for answers (docs/sdk-node.md, "the Buffer
/// lifetime rule").
inline constexpr std::size_t kHeldResultsSegmentDivisor = 4;

}  // namespace fastmd::ipc::policy
