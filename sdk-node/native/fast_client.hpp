// fast_client.hpp — the fast transport's client, as a JS object (`FastClient`): the C++ SDK's
// Client (sdk-cpp/src/ipc/client.cpp) driven by libuv, so that every decision — which worker
// takes a call, re-sends after a worker dies, deadlines, the no-worker wait, drains, daemon
// restarts and their generations, payload placement — is the core's, once for C++ and Node.
// This binding only turns JS payloads into PayloadSources, answers into strings or Buffers,
// and outcomes into one JS callback per loop turn (lib/transports/fast.js keeps the promises
// and AbortSignals).
//
// JS interface:
//   FastClient.connect({socket, name, wants, inlineThreshold, handshakeTimeoutMs, spinUs},
//                      onAnswers) → Promise<FastClient>
//     Connects and completes ipc.hello off the event loop (a libuv work thread);
//     rejects with the core's error (DAEMON_UNREACHABLE, HANDSHAKE_TIMEOUT, the daemon's own).
//     onAnswers(codes, values): codes a Float64Array [token, index, errno, ...], values an
//       Array, one entry per outcome: errno 0 → the result (string or Buffer), else the
//       error's message. Called from the loop, never from inside another method.
//   call(token, method, payload, asString, timeoutMs, idempotent)
//     one call of request `token` (a number JS chose, unique among its pending requests);
//     asString true/false: the result's kind, undefined: the payload's kind
//   callMany(token, method, payloads, asString, timeoutMs, idempotent)
//     one call per payload, written together per worker; call i reports as index i
//   cancel(token): the request's calls still pending are cancelled (their workers are told);
//     their outcomes are not reported
//   workers() → [{name, pid, segment, outstanding}]
//   stats() → {sent: {inline, segment, oneoff}, received: {inline, segment, oneoff, inPlace},
//     heldBytes}: inPlace counts segment results made Buffers without a copy, heldBytes what
//     such Buffers alive now hold of the workers' segments
//   close(): every pending call ends (not reported), every channel closes
//
// Spinning is the core's (ClientOptions::spin_budget, from spinUs: unset adaptive, 0 never):
// when the loop is about to sleep with calls in flight, and has nothing else to do, the
// answers are awaited in the rings' memory first (spin_before_sleep), and reported at once.
#pragma once

#include <napi.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "client_core.hpp"
#include "fastmd/ipc/client.hpp"
#include "js_payload.hpp"
#include "loop_poll_set.hpp"
#include "uv_handles.hpp"

namespace fastmd::node {

class FastClient : public Napi::ObjectWrap<FastClient> {
 public:
  static Napi::Function define(Napi::Env env);

  /// Constructed by connect() only: info[0] is the connected Client, info[1] onAnswers,
  /// info[2] the client's LoopPollSet (attached to the loop here).
  explicit FastClient(const Napi::CallbackInfo& info);
  ~FastClient() override;

 private:
  // The calls of one JS request (a call or a callMany), by its token.
  struct Request {
    ipc::CallId first_id = 0;
    std::size_t count = 0;
    std::size_t pending = 0;
  };

  static Napi::Value connect(const Napi::CallbackInfo& info);
  Napi::Value call(const Napi::CallbackInfo& info);
  Napi::Value call_many(const Napi::CallbackInfo& info);
  Napi::Value cancel(const Napi::CallbackInfo& info);
  Napi::Value workers(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  ipc::Client& client();
  // The handler of call `index` of request `token`, whose result is to be `kind`.
  ipc::detail::AnswerHandler answer_handler(double token, std::size_t index, ResultKind kind);
  void on_answer(double token, std::size_t index, ResultKind kind,
                 proto::Result<ipc::detail::Answer*> outcome);
  // The JS value of a resolved answer, or the error that replaces it.
  proto::Result<Napi::Value> result_of(ipc::detail::Answer& answer, ResultKind kind);
  std::shared_ptr<HeldResultBudget> budget_for(const std::shared_ptr<ipc::detail::PeerSegment>&);

  // Runs `step` of the core (process, end_spin), then reports the outcomes it produced;
  // false when the client closed because Node tears the environment down.
  bool step_and_report(void (ipc::Client::*step)());
  // Runs the client's due I/O and timers, then reports outcomes (from a libuv callback).
  void run_from_loop();
  // The loop is about to sleep: while calls are in flight and the loop has nothing else to
  // do, waits for their answers in memory (Client::spin_for_answers), reporting each batch
  // at once, for at most ipc::policy::kSpinHoldMax per turn of the loop.
  void spin_before_sleep();
  // Hands collected outcomes to onAnswers, with MakeCallback (from a libuv callback).
  void report();
  // After every change: the timer at the client's next wake-up, the loop held while calls are
  // in flight or outcomes wait to be reported.
  void rearm();
  void close_all();

  Napi::Env env_;
  std::unique_ptr<ipc::Client> client_;
  Napi::FunctionReference on_answers_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  uv_loop_t* loop_ = nullptr;
  std::unique_ptr<LoopTimer> timer_;
  std::unique_ptr<LoopBeforeSleep> before_sleep_;
  std::unique_ptr<LoopHold> hold_;

  std::unordered_map<double, Request> requests_;
  double cancelling_ = -1;  // the token cancel() is ending: its outcomes are not reported
  // Outcomes not yet reported: [token, index, errno] triples and their values.
  std::vector<double> codes_;
  Napi::Reference<Napi::Array> values_;
  Napi::Reference<Napi::Float64Array> codes_buffer_;  // reused: a fresh one per turn costs µs

  // Result Buffers held in place, per worker segment (HeldResultBudget).
  std::map<std::weak_ptr<ipc::detail::PeerSegment>, std::shared_ptr<HeldResultBudget>,
           std::owner_less<>>
      budgets_;
  double in_place_ = 0;  // segment results made Buffers without a copy
};

}  // namespace fastmd::node
