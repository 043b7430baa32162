// The fast transport's client (see fast_client.hpp).
#include "fast_client.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>

#include "fastmd/ipc/call_policy.hpp"
#include "js_error.hpp"
#include "payload.hpp"

namespace fastmd::node {

using ipc::detail::Answer;
using ipc::detail::PayloadPath;
using proto::Errc;
using proto::Error;

namespace {

std::uint64_t to_u64(const Napi::Value& value, const char* what) {
  if (!value.IsNumber())
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (number < 0 || number > 9007199254740991.0) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " is out of range");
  }
  return static_cast<std::uint64_t>(number);
}

double to_token(const Napi::Value& value) {
  return static_cast<double>(to_u64(value, "token"));
}

// The result's kind: `as_string` true/false, or undefined for the payload's own kind.
ResultKind kind_of(const Napi::Value& as_string, const JsPayload& payload) {
  if (as_string.IsUndefined()) return payload.is_string() ? ResultKind::string : ResultKind::buffer;
  return as_string.ToBoolean() ? ResultKind::string : ResultKind::buffer;
}

ipc::CallOptions call_options(const Napi::Value& timeout_ms, const Napi::Value& idempotent) {
  ipc::CallOptions options;
  if (!timeout_ms.IsUndefined() && !timeout_ms.IsNull()) {
    options.timeout = std::chrono::milliseconds(to_u64(timeout_ms, "timeoutMs"));
  }
  if (!idempotent.IsUndefined()) options.idempotent = idempotent.ToBoolean();
  return options;
}

// Client::connect on a libuv work thread: the handshake may take up to its bound, and the
// event loop goes on meanwhile. The connected client is handed to the loop's thread, which
// drives it from then on (ClientDrive::caller: it has no thread of its own).
class ConnectWorker final : public Napi::AsyncWorker {
 public:
  ConnectWorker(Napi::Env env, Napi::Function constructor, Napi::Function on_answers,
                ipc::ClientOptions options)
      : Napi::AsyncWorker(env, "FastmdConnect"),
        deferred_(Napi::Promise::Deferred::New(env)),
        constructor_(Napi::Persistent(constructor)),
        on_answers_(Napi::Persistent(on_answers)),
        options_(std::move(options)),
        poll_set_(std::make_unique<LoopPollSet>()),
        attach_(poll_set_.get()) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  // The client's fds are recorded in the poll set now; the loop watches them from attach().
  void Execute() override {
    connected_.emplace(ipc::detail::connect_over(std::move(options_), std::move(poll_set_)));
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!*connected_) {
      deferred_.Reject(js_error(env, connected_->error()).Value());
      return;
    }
    // The constructor owns the client from its first line on.
    auto client = Napi::External<ipc::Client>::New(env, (*connected_)->release());
    try {
      deferred_.Resolve(constructor_.New(
          {client, on_answers_.Value(), Napi::External<LoopPollSet>::New(env, attach_)}));
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());  // the constructor freed the client
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference constructor_;
  Napi::FunctionReference on_answers_;
  ipc::ClientOptions options_;
  std::unique_ptr<LoopPollSet> poll_set_;  // the client's once connect_over() took it
  LoopPollSet* attach_;
  std::optional<proto::Result<std::unique_ptr<ipc::Client>>> connected_;
};

}  // namespace

Napi::Function FastClient::define(Napi::Env env) {
  return DefineClass(
      env, "FastClient",
      {StaticMethod<&FastClient::connect>("connect"), InstanceMethod<&FastClient::call>("call"),
       InstanceMethod<&FastClient::call_many>("callMany"),
       InstanceMethod<&FastClient::cancel>("cancel"),
       InstanceMethod<&FastClient::workers>("workers"), InstanceMethod<&FastClient::stats>("stats"),
       InstanceMethod<&FastClient::close>("close")});
}

Napi::Value FastClient::connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "FastClient.connect(options, onAnswers)");
  }
  const Napi::Object given = info[0].As<Napi::Object>();
  auto has = [&](const char* key) {
    Napi::Value value = given.Get(key);
    return !value.IsUndefined() && !value.IsNull();
  };
  ipc::ClientOptions options;
  options.drive = ipc::ClientDrive::caller;
  // lib/ resolved the socket already (locateDaemon, FASTMD_IPC_SOCKET): no second lookup.
  options.discovery = ipc::DaemonDiscovery::default_path;
  options.socket_path = given.Get("socket").As<Napi::String>();
  options.name = has("name") ? std::string(given.Get("name").As<Napi::String>())
                             : "node:" + std::to_string(::getpid());
  if (Napi::Value wants = given.Get("wants"); wants.IsArray()) {
    const Napi::Array list = wants.As<Napi::Array>();
    for (std::uint32_t i = 0; i < list.Length(); ++i) {
      options.wants.push_back(list.Get(i).As<Napi::String>());
    }
  }
  if (has("inlineThreshold")) {
    options.inline_threshold = to_u64(given.Get("inlineThreshold"), "inlineThreshold");
  }
  if (has("handshakeTimeoutMs")) {
    options.connect_timeout =
        std::chrono::milliseconds(to_u64(given.Get("handshakeTimeoutMs"), "handshakeTimeoutMs"));
  }
  // The loop's thread may wait for room in the segment only briefly (policy.hpp).
  options.shm_wait = ipc::policy::kShmWaitOnEventLoop;
  // Unset: the core's adaptive spin.
  if (has("spinUs")) {
    options.spin_budget = std::chrono::microseconds(to_u64(given.Get("spinUs"), "spinUs"));
  }

  auto* worker = new ConnectWorker(env, info.This().As<Napi::Function>(),
                                   info[1].As<Napi::Function>(), std::move(options));
  Napi::Promise promise = worker->promise();
  worker->Queue();  // deletes itself after OnOK
  return promise;
}

FastClient::FastClient(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<FastClient>(info), env_(info.Env()) {
  if (info.Length() < 3 || !info[0].IsExternal() || !info[2].IsExternal()) {
    throw Napi::TypeError::New(env_, "FastClient is made by FastClient.connect()");
  }
  client_.reset(info[0].As<Napi::External<ipc::Client>>().Data());
  on_answers_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env_, "FastmdFastClient");
  values_ = Napi::Persistent(Napi::Array::New(env_));
  // A Buffer may be written to: one-off results are mapped as private copies.
  ipc::detail::set_attached_view(*client_, shm::AttachedView::private_copy);

  NAPI_THROW_IF_FAILED_VOID(env_, napi_get_uv_event_loop(env_, &loop_));
  hold_ = std::make_unique<LoopHold>(loop_);
  timer_ = std::make_unique<LoopTimer>(loop_, [this] { run_from_loop(); });
  before_sleep_ = std::make_unique<LoopBeforeSleep>(loop_, [this] { spin_before_sleep(); });
  // A poll error is the client's to find: process() reads the fds and reports.
  try {
    info[2].As<Napi::External<LoopPollSet>>().Data()->attach(
        loop_, [](void* self) { static_cast<FastClient*>(self)->run_from_loop(); }, this);
  } catch (const std::exception& error) {
    throw Napi::Error::New(env_,
                           std::string("cannot watch the fast transport's fds: ") + error.what());
  }
  rearm();
}

FastClient::~FastClient() {
  close_all();
}

ipc::Client& FastClient::client() {
  if (!client_) throw_error(env_, Error{Errc::cancelled, "the fast transport is closed"});
  return *client_;
}

// ---- calls -------------------------------------------------------------------------------

ipc::detail::AnswerHandler FastClient::answer_handler(double token, std::size_t index,
                                                      ResultKind kind) {
  return [this, token, index, kind](proto::Result<Answer*> outcome) {
    on_answer(token, index, kind, std::move(outcome));
  };
}

Napi::Value FastClient::call(const Napi::CallbackInfo& info) {
  ipc::Client& core = client();
  const double token = to_token(info[0]);
  const std::string method = info[1].As<Napi::String>();
  auto payload = std::make_shared<JsPayload>(JsPayload::from(info[2]));
  const ResultKind kind = kind_of(info[3], *payload);
  const ipc::CallOptions options = call_options(info[4], info[5]);
  requests_[token] = Request{.count = 1, .pending = 1};
  const ipc::CallId id = ipc::detail::start_call(core, method, std::move(payload), options,
                                                 answer_handler(token, 0, kind));
  if (auto request = requests_.find(token); request != requests_.end()) {
    request->second.first_id = id;
  }
  rearm();
  return env_.Undefined();
}

Napi::Value FastClient::call_many(const Napi::CallbackInfo& info) {
  ipc::Client& core = client();
  const double token = to_token(info[0]);
  const std::string method = info[1].As<Napi::String>();
  const Napi::Array given = info[2].As<Napi::Array>();
  const ipc::CallOptions options = call_options(info[4], info[5]);
  std::vector<std::shared_ptr<const ipc::detail::PayloadSource>> payloads;
  std::vector<ResultKind> kinds;
  payloads.reserve(given.Length());
  kinds.reserve(given.Length());
  for (std::uint32_t i = 0; i < given.Length(); ++i) {
    auto payload = std::make_shared<JsPayload>(JsPayload::from(given.Get(i)));
    kinds.push_back(kind_of(info[3], *payload));
    payloads.push_back(std::move(payload));
  }
  requests_[token] = Request{.count = payloads.size(), .pending = payloads.size()};
  const ipc::CallId first = ipc::detail::start_many(
      core, method, std::move(payloads), options,
      [this, token, kinds = std::move(kinds)](std::size_t index, proto::Result<Answer*> outcome) {
        on_answer(token, index, kinds[index], std::move(outcome));
      });
  if (auto request = requests_.find(token); request != requests_.end()) {
    request->second.first_id = first;
  }
  rearm();
  return env_.Undefined();
}

Napi::Value FastClient::cancel(const Napi::CallbackInfo& info) {
  const double token = to_token(info[0]);
  auto request = requests_.find(token);
  if (!client_ || request == requests_.end()) return env_.Undefined();
  const Request calls = request->second;
  requests_.erase(request);
  cancelling_ = token;
  for (std::size_t i = 0; i < calls.count; ++i) client_->cancel(calls.first_id + i);
  cancelling_ = -1;
  rearm();
  return env_.Undefined();
}

// ---- answers -----------------------------------------------------------------------------

void FastClient::on_answer(double token, std::size_t index, ResultKind kind,
                           proto::Result<Answer*> outcome) {
  if (!client_ || token == cancelling_) return;
  auto request = requests_.find(token);
  if (request == requests_.end()) return;  // cancelled meanwhile (an answer already read)
  if (--request->second.pending == 0) requests_.erase(request);

  proto::Result<Napi::Value> value =
      outcome ? result_of(**outcome, kind) : proto::Result<Napi::Value>(outcome.error());
  codes_.push_back(token);
  codes_.push_back(static_cast<double>(index));
  codes_.push_back(static_cast<double>(value ? Errc::ok : value.error().code));
  Napi::Array values = values_.Value();
  values.Set(static_cast<std::uint32_t>(codes_.size() / 3 - 1),
             value ? *value : Napi::String::New(env_, value.error().message));
}

proto::Result<Napi::Value> FastClient::result_of(Answer& answer, ResultKind kind) {
  ipc::detail::Resolved& payload = answer.payload;
  switch (payload.path) {
    case PayloadPath::inline_frame:
      return make_result(env_, payload.frame_bytes, kind);
    case PayloadPath::oneoff_memfd:
      return make_result(env_, std::move(*payload.attached), kind);  // sealed: maybe in place
    case PayloadPath::segment_block:
      break;
  }
  // Released when `payload` goes (copied or decoded by then, so the worker may reuse it), or
  // when V8 collects a Buffer made over it in place.
  shm::ReadBlock& block = *payload.block;
  if (kind == ResultKind::buffer) {
    if (auto held = buffer_in_place(env_, block, budget_for(answer.segment))) {
      ++in_place_;
      return *held;
    }
  }
  Napi::Value copied = make_result(env_, block.bytes(), kind);
  // Checked again after the copy (payload.hpp, still_intact).
  if (auto intact = ipc::detail::still_intact(*answer.segment, *answer.handle); !intact) {
    return intact.error();
  }
  return copied;
}

std::shared_ptr<HeldResultBudget> FastClient::budget_for(
    const std::shared_ptr<ipc::detail::PeerSegment>& segment) {
  auto found = budgets_.find(segment);
  if (found != budgets_.end()) return found->second;
  // A segment seen for the first time: forget the budgets of segments gone meanwhile.
  std::erase_if(budgets_, [](const auto& entry) { return entry.first.expired(); });
  auto budget = std::make_shared<HeldResultBudget>(segment->reader.info().size);
  budgets_.emplace(segment, budget);
  return budget;
}

// ---- the loop ----------------------------------------------------------------------------

bool FastClient::step_and_report(void (ipc::Client::*step)()) {
  Napi::HandleScope scope(env_);
  try {
    ((*client_).*step)();
    report();
    return true;
  } catch (const Napi::Error&) {
    // Building a value failed while Node tears the environment down (FreeEnvironment runs
    // the loop once more, when JS can no longer run): nothing is left to report to.
    close_all();
    return false;
  }
}

void FastClient::run_from_loop() {
  if (client_ && step_and_report(&ipc::Client::process)) rearm();
}

void FastClient::spin_before_sleep() {
  if (!client_ || requests_.empty()) return;
  const auto now = [] { return std::chrono::steady_clock::now(); };
  const auto hold_until = now() + ipc::policy::kSpinHoldMax;
  // The loop's own fd (epoll, kqueue) is readable while any other fd it watches is ready:
  // that I/O runs now, not after a spin. Between batches found at once it is looked at every
  // few batches (a syscall each).
  constexpr unsigned kBatchesPerLook = 16;
  const int loop_fd = uv_backend_fd(loop_);
  const auto loop_has_io = [loop_fd] {
    pollfd io{loop_fd, POLLIN, 0};
    return ::poll(&io, 1, 0) > 0;
  };
  bool awake = false;  // the last wait found answers: the rings stay awake for the next
  for (unsigned batch = 0; client_ && !requests_.empty(); ++batch) {
    if (batch > 0 && (now() >= hold_until || (batch % kBatchesPerLook == 0 && loop_has_io()))) {
      break;
    }
    // The loop's clock as its timers see it, past this turn's callbacks and earlier batches.
    uv_update_time(loop_);
    // 0: a timer is due, or callbacks, immediates, closing handles or fd watches changed this
    // turn are pending, so the loop does not sleep; else the next timer (-1: none).
    const int timeout_ms = uv_backend_timeout(loop_);
    if (timeout_ms == 0) break;
    auto until = hold_until;
    if (timeout_ms > 0) until = std::min(until, now() + std::chrono::milliseconds(timeout_ms));
    Napi::HandleScope scope(env_);  // per batch: its results are the promises' from here on
    try {
      awake = client_->spin_for_answers(until, loop_has_io);
      if (!awake) break;
      report();  // JS runs, its microtasks too: it may start the next call, awaited in turn
    } catch (const Napi::Error&) {
      close_all();  // as in step_and_report
      return;
    }
  }
  // Stopped right after answers: the rings sleep again before the loop does.
  if (awake && client_ && !step_and_report(&ipc::Client::end_spin)) return;
  rearm();
}

void FastClient::report() {
  if (codes_.empty()) return;
  if (codes_buffer_.IsEmpty() || codes_buffer_.Value().ElementLength() < codes_.size()) {
    codes_buffer_ =
        Napi::Persistent(Napi::Float64Array::New(env_, std::max<std::size_t>(codes_.size(), 1536)));
  }
  Napi::Float64Array codes = codes_buffer_.Value();
  std::copy(codes_.begin(), codes_.end(), codes.Data());
  codes_.clear();
  Napi::Array values = values_.Value();
  values_ = Napi::Persistent(Napi::Array::New(env_));
  // JS reads only the first 3 × values.length entries of `codes`, before it returns.
  try {
    on_answers_.MakeCallback(Value(), {codes, values}, *async_context_);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env_, error.Value());
  }
}

void FastClient::rearm() {
  if (!client_) return;
  const auto wakeup = client_->next_wakeup();
  if (!codes_.empty()) {
    timer_->arm(0);  // outcomes of a call that failed as it started: reported from the loop
  } else if (wakeup == std::chrono::steady_clock::time_point::max()) {
    timer_->stop();
  } else {
    const auto delay =
        std::chrono::ceil<std::chrono::milliseconds>(wakeup - std::chrono::steady_clock::now());
    timer_->arm(static_cast<std::uint64_t>(std::max<std::int64_t>(delay.count(), 0)));
  }
  hold_->set_busy(client_->in_flight() > 0 || !codes_.empty());
}

// ---- state -------------------------------------------------------------------------------

Napi::Value FastClient::workers(const Napi::CallbackInfo&) {
  Napi::Array out = Napi::Array::New(env_);
  if (!client_) return out;
  std::uint32_t at = 0;
  for (const ipc::detail::WorkerInfo& worker : ipc::detail::workers(*client_)) {
    Napi::Object entry = Napi::Object::New(env_);
    entry.Set("name", worker.name);
    entry.Set("pid", static_cast<double>(worker.pid));
    entry.Set("segment", static_cast<double>(worker.segment));
    entry.Set("outstanding", static_cast<double>(worker.outstanding));
    out.Set(at++, entry);
  }
  return out;
}

Napi::Value FastClient::stats(const Napi::CallbackInfo&) {
  const ipc::detail::Traffic traffic =
      client_ ? ipc::detail::traffic(*client_) : ipc::detail::Traffic{};
  auto counts = [&](const ipc::detail::PathCounts& c) {
    Napi::Object out = Napi::Object::New(env_);
    out.Set("inline", static_cast<double>(c.inline_frames));
    out.Set("segment", static_cast<double>(c.segment_blocks));
    out.Set("oneoff", static_cast<double>(c.oneoff_memfds));
    return out;
  };
  Napi::Object out = Napi::Object::New(env_);
  out.Set("sent", counts(traffic.sent));
  Napi::Object received = counts(traffic.received);
  received.Set("inPlace", in_place_);
  out.Set("received", received);
  double held = 0;
  for (const auto& [segment, budget] : budgets_) held += static_cast<double>(budget->held());
  out.Set("heldBytes", held);
  return out;
}

Napi::Value FastClient::close(const Napi::CallbackInfo&) {
  close_all();
  return env_.Undefined();
}

void FastClient::close_all() {
  if (!client_) return;
  // Handlers that run while the client closes (CANCELLED for every pending call) find
  // client_ gone and report nothing: JS failed those requests itself.
  std::unique_ptr<ipc::Client> closing = std::move(client_);
  timer_.reset();
  before_sleep_.reset();
  closing.reset();
  requests_.clear();
  codes_.clear();
  hold_.reset();
}

}  // namespace fastmd::node
