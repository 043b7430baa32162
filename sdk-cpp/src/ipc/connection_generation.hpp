// connection_generation.hpp — what a client does with the direct channels of an earlier daemon
// connection (PROTOCOL.md §3.8 item 4, a MUST for the reference SDKs), in one place for the C++
// Client and the Node addon. After a reconnect the new daemon introduces the same live workers
// again on new channels; a channel of an earlier connection takes no new call, and it is closed
// once no call is in flight on it. Closing it releases what that connection mapped (the
// client's own old segment and the worker's), since the channel owns those mappings: without
// this, every restart left a whole generation of channels and segments mapped, and listed as
// workers (measured: 15 workers listed for 3 live ones after four restarts).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastmd::ipc::detail {

/// The daemon connection a channel was introduced on, against the client's current one.
struct ConnectionGeneration {
  std::uint64_t of_channel = 0;
  std::uint64_t current = 0;

  /// For a holder of one connection's channels that knows only whether a newer connection
  /// replaced it (the Node addon's session).
  static constexpr ConnectionGeneration of(bool replaced) { return {replaced ? 0u : 1u, 1u}; }

  /// Whether new calls may go on the channel, and whether it counts as a live worker: only
  /// the current connection's channels do (an earlier one's peer is introduced again).
  constexpr bool takes_new_calls() const { return of_channel == current; }

  /// Whether the channel is closed now: it belongs to an earlier connection and none of its
  /// calls is still in flight (each in-flight call's answer still arrives on it first).
  constexpr bool closes_now(std::size_t calls_in_flight) const {
    return !takes_new_calls() && calls_in_flight == 0;
  }
};

}  // namespace fastmd::ipc::detail
