// fastmd/ipc/client.hpp — fastmd::ipc::Client, the caller's side of the fast path. It
// connects to fastmd-ipcd, is introduced to every worker serving the methods it wants, and
// sends calls straight to them over direct channels: small payloads inline, large ones
// through its shared-memory segment (or a one-off memfd beyond it). Calls may be pipelined
// without limit; each goes to the worker with the fewest calls outstanding.
//
// No call is left hanging: it completes with a Reply or fails with a proto::Error —
// TIMEOUT (its deadline passed), CANCELLED, NO_WORKER (no worker within the wait),
// PEER_GONE (its worker died and the call is not idempotent; idempotent calls, the default,
// are re-sent to another worker), or the worker's own error (METHOD_NOT_FOUND,
// HANDLER_FAILED, ...). When the daemon restarts, the client reconnects with backoff;
// established channels keep working meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/ipc/reply.hpp"
#include "fastmd/proto/limits.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::ipc {

namespace detail {
class ClientAccess;  // the language bindings' way in (src/ipc/client_core.hpp)
}

using proto::ByteView;

/// How Client::connect finds the daemon when neither ClientOptions::socket_path nor
/// $FASTMD_IPC_SOCKET names one.
enum class DaemonDiscovery {
  /// The system daemon (/run/fastmd/ipcd.sock) when it answers, else the per-user daemon,
  /// started on first use (`fastmd-ipcd --user`, shared by every process of the user; see
  /// docs/sdk-cpp.md "Where the daemon is").
  automatic,
  /// Only resolve_socket_path()'s path; DAEMON_UNREACHABLE when nothing listens there.
  default_path,
};

/// Who runs a Client's I/O.
enum class ClientDrive {
  /// A thread of the client's own (the default): callbacks run there, or on a thread waiting
  /// in call().
  own_thread,
  /// The caller's event loop, for a program that has one (and the Node addon): the client
  /// starts no thread. The loop watches poll_fd() for input and calls process() when it is
  /// readable or when next_wakeup() has come; callbacks run inside process(). call(),
  /// call_many() and wait_for_workers() run the I/O themselves while they wait. Such a client
  /// is used from one thread at a time.
  caller,
};

struct ClientOptions {
  /// The daemon's socket; empty: $FASTMD_IPC_SOCKET, else as `discovery` says.
  std::string socket_path;
  /// How the daemon is found when no socket path is configured.
  DaemonDiscovery discovery = DaemonDiscovery::automatic;
  /// A label for the daemon's logs and status.
  std::string name = "cpp-client";
  /// The methods this client calls; empty: every method.
  std::vector<std::string> wants;
  /// Payloads up to this many bytes travel inline in the frame; larger ones in shared memory.
  std::size_t inline_threshold = proto::kDefaultInlineThreshold;
  /// How long a payload waits for room in the client's segment before it goes by one-off memfd.
  std::chrono::milliseconds shm_wait{policy::kShmWait};
  /// Bound of the handshake with the daemon.
  std::chrono::milliseconds connect_timeout{policy::kHandshakeTimeout};
  /// Longest pause between reconnection attempts after the daemon went away.
  std::chrono::milliseconds reconnect_max{policy::kReconnectMax};
  /// Who runs the client's I/O: its own thread, or the caller's event loop.
  ClientDrive drive = ClientDrive::own_thread;
  /// How long a wait for answers polls before it sleeps: a synchronous call polls the ring
  /// of its worker's channel, the client's own I/O thread its channels. With the worker
  /// spinning too, a small call then makes no syscall on either side. nullopt (default):
  /// adaptive — spin only while a core is free, and only about as long as recent answers
  /// took, at most policy::kSpinLearnedMax (docs/sdk-cpp.md, "Spinning"); 0: never spin;
  /// another value: spin up to that long every wait.
  std::optional<std::chrono::microseconds> spin_budget;
  /// Bytes of the shared-memory ring this client writes its small frames into, on each
  /// channel to a worker that offers rings too (PROTOCOL.md §5.5): a power of two from 4 KiB
  /// to 64 MiB. 0: socket frames only.
  std::uint32_t ring_bytes = policy::kRingBytes;
};

struct CallOptions {
  /// The call fails with TIMEOUT when no result arrived within this time; 0: no deadline.
  std::chrono::milliseconds timeout{0};
  /// Whether the call may run twice: idempotent calls whose worker dies are re-sent to
  /// another worker; the others fail with PEER_GONE.
  bool idempotent = true;
};

using CallResult = proto::Result<Reply>;
/// Identifies an asynchronous call, for cancel().
using CallId = std::uint64_t;
/// Receives a call's outcome, once, on the client's I/O thread, on a thread waiting in call()
/// on the same client (it reads the channel it waits on, answers to other calls included), or,
/// for a call that fails before it is sent, on the calling thread. A ClientDrive::caller
/// client runs it inside process() or a blocking call, on the caller's thread. Must not block, and
/// must not make synchronous calls on the same client.
using Callback = std::function<void(CallResult)>;

class Client {
 public:
  /// Connects to the daemon and completes the handshake. DAEMON_UNREACHABLE when no daemon
  /// listens on the socket; the daemon's error when it refuses.
  ///
  ///     auto client = fastmd::ipc::Client::connect({.wants = {"transform"}});
  ///     if (!client) { std::cerr << client.error().to_string() << "\n"; return 1; }
  static proto::Result<std::unique_ptr<Client>> connect(ClientOptions options = {});

  /// Fails every call still outstanding with CANCELLED, then disconnects.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Calls `method` and waits for its result. `params` is not copied (the call borrows it
  /// until it returns). The calling thread reads the answer from the worker's channel itself
  /// (no hand-off from the I/O thread), so a round trip costs two wake-ups, like a pipe.
  ///
  ///     auto reply = client->call("transform", proto::as_bytes("# Hi\n"));
  ///     if (reply) std::cout << reply->text();
  CallResult call(std::string_view method, ByteView params, CallOptions options = {});

  /// Starts a call; the future yields its outcome. `params` is copied.
  std::future<CallResult> call_async(std::string_view method, ByteView params,
                                     CallOptions options = {});

  /// Starts a call; `done` receives its outcome. `params` is copied.
  ///
  ///     CallId id = client->call_async("echo", bytes, [](CallResult r) { ... });
  ///     client->cancel(id);   // done() gets CANCELLED unless it already completed
  CallId call_async(std::string_view method, ByteView params, Callback done,
                    CallOptions options = {});

  /// Calls `method` once per element of `params`, pipelined and written in batches (one
  /// write per worker per batch), and waits for all of them. `params` is borrowed. Result i
  /// belongs to params[i].
  std::vector<CallResult> call_many(std::string_view method, std::span<const ByteView> params,
                                    CallOptions options = {});

  /// Cancels an asynchronous call: it completes with CANCELLED now, and the worker is told
  /// (it skips the call if it has not started it). false when the call already completed.
  bool cancel(CallId id);

  /// Waits until at least `count` workers are introduced (false after `timeout`).
  bool wait_for_workers(std::size_t count, std::chrono::milliseconds timeout);

  /// Workers currently introduced, on the current daemon connection: after a daemon restart
  /// a live worker counts once, not once per daemon generation (PROTOCOL.md §3.8 item 4).
  std::size_t worker_count() const;

  /// Calls started and not yet completed.
  std::size_t in_flight() const;

  /// ClientDrive::caller only: an fd that is readable whenever the client has I/O to do.
  /// Watch it for input in the caller's event loop (poll, epoll, libuv, asio) and call
  /// process() when it is readable.
  ///
  ///     pollfd io{client->poll_fd(), POLLIN, 0};
  ///     while (running) {
  ///       (void)::poll(&io, 1, timeout_until(client->next_wakeup()));
  ///       client->process();   // answers, reconnects, deadlines: callbacks run here
  ///     }
  int poll_fd() const;

  /// ClientDrive::caller only: does the client's pending I/O and timers without blocking;
  /// completed calls' callbacks run on the calling thread before it returns.
  void process();

  /// ClientDrive::caller only, when the caller's loop is about to sleep with calls in flight
  /// (after process()): waits for their answers in memory (the rings of their channels, and
  /// poll_fd() every few µs) instead, as long as spin_budget allows (by default only while a
  /// core is free and answers come quickly), at most until `until`, and only while
  /// `interrupted()`, asked every few µs, says the loop has nothing else to do. true: input
  /// came and was handled: answers, whose callbacks ran, or now and then only a doorbell a
  /// worker rang before an earlier round read its answer; and the workers do not ring while the
  /// caller goes on (its callbacks may start the next calls), so before its loop sleeps it calls
  /// this again or end_spin(). false: nothing came, and the workers ring poll_fd() for the loop
  /// again.
  ///
  ///     // before the loop sleeps (libuv: a uv_prepare handle), nothing else ready
  ///     const auto hold = now() + 10ms;  // the loop's other work waits at most this long
  ///     const auto has_io = [&] { return loop_has_io(); };
  ///     bool awake = false;  // the last wait found answers
  ///     while (client->in_flight() > 0 && now() < hold) {
  ///       awake = client->spin_for_answers(std::min(next_timer, hold), has_io);
  ///       if (!awake) break;
  ///     }
  ///     if (awake) client->end_spin();
  bool spin_for_answers(std::chrono::steady_clock::time_point until,
                        const std::function<bool()>& interrupted);

  /// ClientDrive::caller only: after spin_for_answers() returned true, the caller's loop
  /// sleeps without spinning again: the workers ring poll_fd() for it again, and answers that
  /// came meanwhile are read now (their callbacks run). No syscall when none came.
  void end_spin();

  /// ClientDrive::caller only: when process() must run even if poll_fd() stays quiet (a call's
  /// deadline, a reconnection); time_point::max() for never.
  std::chrono::steady_clock::time_point next_wakeup();

  class Impl;

 private:
  friend class detail::ClientAccess;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastmd::ipc
