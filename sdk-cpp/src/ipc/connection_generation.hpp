// connection_generation.hpp — what a client does with the direct channels of an earlier daemon
// connection (PROTOCOL.md §3.8 item 4, a MUST for the reference SDKs), in one place for the C++
// Client and the Node addon. After a reconnect the new daemon introduces the same live workers
// again on new channels. A channel of an earlier connection whose worker was introduced again
// takes no new call and is closed once no call is in flight on it; closing it releases what that
// connection mapped (the client's own old segment and the worker's), since the channel owns
// those mappings. Until its worker is introduced again (it may reconnect after the client), the
// earlier channel still serves calls like any other, so none fails for the gap.
// Without this rule every restart left a generation of channels and segments mapped, and listed
// as workers (measured: 15 workers listed for 3 live ones after four restarts).
#pragma once

#include <cstddef>

namespace fastmd::ipc::detail {

/// Where a channel stands against the client's current daemon connection.
struct ConnectionGeneration {
  bool current = true;      // introduced on the current connection
  bool superseded = false;  // an earlier one whose worker the current connection introduced

  /// Whether new calls may go on it: a current connection's channel, or an earlier one's whose
  /// worker is not introduced again yet (the worker is live; its new channel is not there yet).
  constexpr bool takes_new_calls() const { return current || !superseded; }

  /// Whether it counts as a live worker: each worker once, on its newest channel.
  constexpr bool listed() const { return takes_new_calls(); }

  /// Whether the channel is closed now: an earlier connection's, superseded, and none of its
  /// calls still in flight (each in-flight call's answer still arrives on it first).
  constexpr bool closes_now(std::size_t calls_in_flight) const {
    return !current && superseded && calls_in_flight == 0;
  }
};

}  // namespace fastmd::ipc::detail
