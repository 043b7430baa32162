// channel_limits.hpp — the one place of the direct channel's policy numbers: how many fds a
// peer may have in flight towards us, and how much answering a worker does for a peer that
// does not read. docs/sdk-cpp.md ("Limits of a direct channel") and proto/PROTOCOL.md §1 name
// them; everything else (the C++ Client and Worker, the Node addon) takes them from here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "fastmd/proto/limits.hpp"

namespace fastmd::ipc::detail {

/// Fds received on one channel and not yet claimed by a complete frame. An honest peer has at
/// most two frames' worth in flight (a frame still arriving, and the next one whose first
/// byte came with the last read); more closes the channel with FD_MISMATCH.
inline constexpr std::size_t kMaxHeldFdsPerChannel = 2 * proto::kMaxFdsPerFrame;

/// A worker stops reading a channel's requests while this many bytes of its answers wait
/// unread in the worker (the peer does not read), and reads on once half of them are written
/// (each of these pause bounds resumes at half, worker.cpp's resume_if_room).
inline constexpr std::size_t kAnswerBacklogPauseBytes = 4 * 1024 * 1024;

/// A worker stops reading a channel's requests while this many of them are read but not yet
/// answered: what an unread answer backlog can still grow by stays bounded. At the default
/// inline threshold their answers add at most 16 MiB to a backlog paused at
/// kAnswerBacklogPauseBytes, well short of kAnswerBacklogCloseBytes, so a slow but honest
/// client is not closed. At 256, resumed at the first answer, a pipelining client was paused
/// every few dozen answers and 64 B calls ran at a third of their speed (docs/performance.md).
inline constexpr std::uint32_t kMaxUnansweredPerChannel = 1024;

/// ...or while this many of them came with an fd (a one-off memfd, mapped until the handler
/// is done): each costs the worker a mapping, of which a process has a limited number.
inline constexpr std::uint32_t kMaxUnansweredWithFdsPerChannel = 64;

/// ...or while the inline params of its unanswered requests (copied while they wait) take
/// this many bytes.
inline constexpr std::size_t kMaxUnansweredBytesPerChannel = 16 * 1024 * 1024;

/// A worker closes a channel (logging why) whose unread answers have not shrunk for this
/// long: its peer stopped reading, and what the worker holds for it is released.
inline constexpr std::chrono::milliseconds kAnswerStallLimit{5000};

/// ...or whose unread answers reach this many bytes (only reachable with inline thresholds
/// raised far above the default, since the pauses above stop new work).
inline constexpr std::size_t kAnswerBacklogCloseBytes = 64 * 1024 * 1024;

}  // namespace fastmd::ipc::detail
