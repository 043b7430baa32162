// fast_session.hpp — one client session with fastmd-ipcd, as a JS object (`FastSession`):
// the control connection (the core's ControlConnection, driven by libuv: ipc.hello, then
// introductions, peers gone, shutdown, ipc.want answers), one direct
// channel per introduced worker, this session's own segment (requests written in place) and
// each worker's segment (results read in place). All I/O is non-blocking and driven by
// libuv; policy (which worker, retries, timeouts, reconnects) lives in lib/transports/fast.js.
//
// JS interface:
//   new FastSession(socketPath, {name, wants, inlineThreshold, maxFrame}, onEvent, onResponses)
//     onEvent(kind, data): 'ready' {session, daemon, segment, segmentSize}
//       | 'failed' {errno, message} | 'introduce' {peer, name, pid, methods, segment} | 'peer_gone'
//       {peer, reason} | 'peer_closed' {peer, errno, message} | 'no_worker' {method, waitMs} |
//       'want_answered' {method, errno, message} (errno 0: a worker serving it was introduced)
//       | 'peer_draining' {peer} | 'shutdown' {reason} | 'control_closed' {errno, message}
//     'ready' also carries noWorkerWaitMs when the daemon says it (then it takes ipc.want)
//     onResponses(peer, codes, values): codes is a Float64Array [id, errno, ...], values an
//       Array, one entry per answer: errno 0 → the result, else the error's message
//   send(peer, id, method, payload, asString)  cancel(peer, id)  abandon(peer, id)  close()
//   closePeer(peer): closes that worker's channel now (emits 'peer_closed'); for a draining
//     worker none of whose calls is left
//   want(method): sends ipc.want {method} to the daemon; answered by 'want_answered'
//   retire(peer): a newer daemon connection introduced this earlier session's worker again
//     (PROTOCOL.md §3.8 item 4): its channel is closed once no call is in flight on it
//     ('peer_closed' with FASTMD_CANCELLED follows), releasing its segment mapping; JS sends
//     it no new call
//   sendMany(peer, firstId, method, payloads, start, end, as) → [index, errno, message, ...]
//     payloads[start..end) as calls firstId + index, written with as few writes as the socket
//     allows; `as` true/false: string/Buffer results, undefined: each payload's kind. Returns
//     the calls that could not be placed (the rest went out); throws PEER_GONE when the
//     channel failed, and then none of them is in flight.
//   spin(peer, id, spinUs) → [codes, values] or undefined: polls the channel until call `id`
//     is answered or spinUs µs passed, and returns the answers found as onResponses would
//     get them (they do not go to onResponses)
//   stats() → {sent: {inline, segment, oneoff}, received: {inline, segment, oneoff, inPlace},
//     heldBytes}: inPlace counts segment results made Buffers without a copy, heldBytes what
//     such Buffers alive now hold of the workers' segments
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "control_connection.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/shm/segment_reader.hpp"
#include "fastmd/shm/segment_writer.hpp"
#include "framed_socket.hpp"
#include "js_payload.hpp"
#include "payload.hpp"
#include "uv_handles.hpp"

namespace fastmd::node {

class FastSession : public Napi::ObjectWrap<FastSession> {
 public:
  static Napi::Function define(Napi::Env env);

  explicit FastSession(const Napi::CallbackInfo& info);
  ~FastSession() override;

 private:
  // A worker this session was introduced to.
  struct Peer {
    std::uint64_t session = 0;
    std::uint32_t max_frame = proto::kDefaultMaxDataFrame;
    std::unique_ptr<ipc::detail::FramedSocket> channel;  // before `poll`: outlives it
    std::unique_ptr<PollWatcher> poll;
    std::shared_ptr<ipc::detail::PeerSegment> segment;
    std::shared_ptr<HeldResultBudget> held_results;  // result Buffers over `segment`
    std::unordered_map<std::uint64_t, ResultKind> in_flight;
    bool superseded = false;  // retire(peer): introduced again on a newer connection
    bool retiring = false;    // shut down by retire_if_settled(): its close is no failure
  };

  Napi::Value send(const Napi::CallbackInfo& info);
  Napi::Value send_many(const Napi::CallbackInfo& info);
  Napi::Value spin(const Napi::CallbackInfo& info);
  Napi::Value cancel(const Napi::CallbackInfo& info);
  Napi::Value want(const Napi::CallbackInfo& info);
  Napi::Value abandon(const Napi::CallbackInfo& info);
  Napi::Value retire(const Napi::CallbackInfo& info);
  Napi::Value close_peer(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);

  void on_control_ready(int status, int events);
  // One announcement of the daemon (decoded by the core's ControlConnection).
  void handle_control(ipc::detail::ControlEvent& event);
  // The handshake is done: the own segment is opened and JS told 'ready'.
  void begin_session();
  void handle_introduce(ipc::detail::Introduction& intro);
  void end_control(const proto::Error& why);

  void on_peer_ready(std::uint64_t peer_id, int status, int events);
  // Answers read in one go, as JS gets them: ids and errnos in a Float64Array (not two
  // property sets per answer) and the values in an Array. The Float64Array is the session's
  // `codes_buffer`, reused (a fresh one per readable event cost a single call about 3 µs of
  // CPU): JS reads it before it returns, and only its first 2 × values.length entries.
  class Answers {
   public:
    Answers(Napi::Env env, Napi::Reference<Napi::Float64Array>& codes_buffer);
    void add(std::uint64_t id, proto::Errc code, Napi::Value value);
    bool empty() const { return codes_.empty(); }
    Napi::Float64Array codes();  // [id, errno, ...]
    Napi::Array values;

   private:
    std::vector<double> codes_;
    Napi::Reference<Napi::Float64Array>& codes_buffer_;
  };

  // Reads what has arrived on `peer`'s channel; responses are added to `answers`. Returns
  // the error that ends the channel, if any.
  std::optional<proto::Error> read_responses(Peer& peer, Answers& answers);
  void read_response(Peer& peer, ipc::detail::Inbound& inbound, Answers& answers);
  void drop_peer(std::uint64_t peer_id, const char* event, const proto::Error& why);
  // Once `peer` is superseded, shuts down its channel when its last call settled; the
  // channel's poll then reports the end, and the peer is dropped from the loop, not from here.
  void retire_if_settled(Peer& peer);

  // Places a request's payload with the core's place_payload: inline, in the own segment, or
  // in a one-off memfd.
  proto::Status place_payload(const JsPayload& payload, const Peer& peer,
                              ipc::detail::Outgoing& request);
  [[noreturn]] void throw_channel_failed(const proto::Error& why);

  void emit(const char* kind, Napi::Object data);
  void update_hold();
  void close_all();

  /// Runs a libuv callback's work. No C++ exception may leave a libuv callback (that is
  /// std::terminate): a Napi::Error here comes from building event data while Node tears the
  /// environment down (FreeEnvironment runs the loop once more, when JS can no longer run, and
  /// a late ipc.introduce from an on-demand pool worker can arrive then). The session stops
  /// watching everything, as if closed; JS exceptions from event handlers never get here
  /// (emit() reports them as uncaught).
  template <class Work>
  void from_loop(Work&& work) {
    try {
      work();
    } catch (const Napi::Error&) {
      close_all();
    }
  }
  Peer& peer_for(const Napi::CallbackInfo& info);

  Napi::Env env_;
  uv_loop_t* loop_ = nullptr;
  Napi::FunctionReference on_event_;
  Napi::FunctionReference on_responses_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::size_t inline_threshold_ = proto::kDefaultInlineThreshold;

  std::unique_ptr<LoopHold> hold_;
  std::unique_ptr<ipc::detail::ControlConnection> control_;  // before `control_poll_`
  std::unique_ptr<PollWatcher> control_poll_;
  bool ready_ = false;
  std::unordered_map<std::uint64_t, std::string> wants_in_flight_;  // ipc.want ids → methods
  std::uint64_t next_request_id_ = ipc::detail::ControlConnection::kHelloId + 1;
  bool closed_ = false;

  std::shared_ptr<ipc::detail::OwnSegment> own_segment_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Peer>> peers_;
  std::size_t in_flight_ = 0;
  proto::ByteBuffer scratch_;                         // inline string payloads are encoded here
  Napi::Reference<Napi::Float64Array> answer_codes_;  // see Answers

  // How payloads travelled, by path: what the measurements in docs/sdk-node.md count.
  struct PathCounts {
    double inline_frames = 0;
    double segment_blocks = 0;
    double oneoff_memfds = 0;
    double in_place = 0;  // received: Buffers over the worker's segment, not copied
  };
  static void count(PathCounts& counts, ipc::detail::PayloadPath path);
  PathCounts sent_;
  PathCounts received_;
};

/// Throws a JS Error for `error` with `code` 'FASTMD_<NAME>' and `errno` <number>.
[[noreturn]] void throw_error(Napi::Env env, const proto::Error& error);

}  // namespace fastmd::node
