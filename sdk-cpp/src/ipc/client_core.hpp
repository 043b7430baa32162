// client_core.hpp — what a language binding needs of the C++ Client beyond its public API, so
// that the binding keeps no policy of its own (iceoryx2's rule for bindings; the Node addon is
// the one): calls whose payload writes itself where it travels (a JS string encoded straight
// into its block), and answers handed over resolved but not yet made into values, so the
// binding makes its own (a Buffer over the block, a string) while every decision — which
// worker, re-sends, deadlines, the no-worker wait, drains, daemon generations — stays the
// Client's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fastmd/ipc/client.hpp"
#include "fastmd/platform/poller.hpp"
#include "payload.hpp"

namespace fastmd::ipc::detail {

/// An answer as the core resolved it. `payload` holds the bytes: in the frame (valid until the
/// handler returns), a block of the worker's segment or a one-off mapping (released when
/// `payload` goes, unless the handler moves them out to keep the bytes).
struct Answer {
  Resolved payload;
  /// The worker's segment (for still_intact() after a copy, and per-segment budgets); null for
  /// a worker without one.
  const std::shared_ptr<PeerSegment>& segment;
  /// The answer's shared-memory handle, when it has one.
  const proto::ShmHandle* handle = nullptr;
};

/// Receives a call's outcome once: the resolved answer, or the call's error (the worker's, a
/// deadline, a cancel, no worker, the worker gone). Runs where Callback would run.
using AnswerHandler = std::function<void(proto::Result<Answer*>)>;

/// Client::connect, for a client driven by the caller (ClientDrive::caller) whose event loop
/// watches each of the client's fds itself: the client waits on `poll_set` (null: a
/// platform::Poller, as Client::connect does), and its poll_fd() is poll_set's fd().
proto::Result<std::unique_ptr<Client>> connect_over(ClientOptions options,
                                                    std::unique_ptr<platform::PollSet> poll_set);

/// How a binding's client maps a one-off result: a Node Buffer may be written to, so the addon
/// asks for a private copy-on-write view (shm::AttachedView::private_copy).
void set_attached_view(Client& client, shm::AttachedView view);

/// Starts a call of `method` whose payload is `payload` (kept until the call completes: a
/// re-send writes it again); `done` gets the outcome.
CallId start_call(Client& client, std::string_view method,
                  std::shared_ptr<const PayloadSource> payload, const CallOptions& options,
                  AnswerHandler done);

/// Receives the outcome of call `index` of a batch (start_many), once.
using BatchAnswerHandler = std::function<void(std::size_t index, proto::Result<Answer*>)>;

/// Starts one call of `method` per payload, written together per worker as Client::call_many
/// does (Node's callMany); call i's id is the returned id + i. Payloads are kept until their
/// calls complete.
CallId start_many(Client& client, std::string_view method,
                  std::vector<std::shared_ptr<const PayloadSource>> payloads,
                  const CallOptions& options, BatchAnswerHandler done);

/// A worker calls can go to now, as a binding lists it (Node's `client.workers`).
struct WorkerInfo {
  std::string name;
  std::uint32_t pid = 0;
  std::uint64_t segment = 0;      // the worker's segment id; 0: it has none
  std::uint32_t outstanding = 0;  // this client's calls on it
};

/// The workers listed now, each once (Client::worker_count() counts the same ones).
std::vector<WorkerInfo> workers(Client& client);

/// How many payloads travelled by each path (the counts docs/sdk-node.md's measurements use).
struct PathCounts {
  std::uint64_t inline_frames = 0;
  std::uint64_t segment_blocks = 0;
  std::uint64_t oneoff_memfds = 0;

  void count(PayloadPath path);
};

/// Requests sent and answers received by this client since it connected, by path.
struct Traffic {
  PathCounts sent;
  PathCounts received;
};
Traffic traffic(Client& client);

}  // namespace fastmd::ipc::detail
