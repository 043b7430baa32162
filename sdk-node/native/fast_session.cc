// The client session of the fast transport (see fast_session.hpp).
#include "fast_session.hpp"

#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "answer_error.hpp"
#include "connection_generation.hpp"
#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/shm/oneoff.hpp"
#include "payload.hpp"
#include "request_batch.hpp"

namespace fastmd::node {

using ipc::detail::FramedSocket;
using ipc::detail::Inbound;
using proto::Errc;
using proto::Error;

namespace {

using ipc::detail::PayloadPath;

std::string error_code_name(Errc code) {
  return "FASTMD_" + std::string(proto::errc_name(code));
}

Napi::Object error_data(Napi::Env env, const Error& error) {
  Napi::Object data = Napi::Object::New(env);
  data.Set("errno", static_cast<double>(error.code));
  data.Set("message", error.message);
  return data;
}

Napi::Array method_names(Napi::Env env, const std::vector<proto::MethodSpec>& methods) {
  Napi::Array names = Napi::Array::New(env, methods.size());
  for (std::uint32_t i = 0; i < methods.size(); ++i) names.Set(i, methods[i].name);
  return names;
}

std::uint64_t to_u64(const Napi::Value& value, const char* what) {
  if (!value.IsNumber())
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (number < 0 || number > 9007199254740991.0) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " is out of range");
  }
  return static_cast<std::uint64_t>(number);
}

}  // namespace

void throw_error(Napi::Env env, const Error& error) {
  Napi::Error js = Napi::Error::New(env, error.message);
  js.Set("code", error_code_name(error.code));
  js.Set("errno", static_cast<double>(error.code));
  throw js;
}

Napi::Function FastSession::define(Napi::Env env) {
  return DefineClass(
      env, "FastSession",
      {InstanceMethod<&FastSession::send>("send"),
       InstanceMethod<&FastSession::send_many>("sendMany"),
       InstanceMethod<&FastSession::spin>("spin"), InstanceMethod<&FastSession::cancel>("cancel"),
       InstanceMethod<&FastSession::want>("want"), InstanceMethod<&FastSession::abandon>("abandon"),
       InstanceMethod<&FastSession::retire>("retire"),
       InstanceMethod<&FastSession::close_peer>("closePeer"),
       InstanceMethod<&FastSession::close>("close"), InstanceMethod<&FastSession::stats>("stats")});
}

FastSession::FastSession(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<FastSession>(info), env_(info.Env()) {
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsFunction() ||
      !info[3].IsFunction()) {
    throw Napi::TypeError::New(env_, "FastSession(socketPath, options, onEvent, onResponses)");
  }
  const std::string path = info[0].As<Napi::String>();
  const Napi::Object options = info[1].As<Napi::Object>();
  on_event_ = Napi::Persistent(info[2].As<Napi::Function>());
  on_responses_ = Napi::Persistent(info[3].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env_, "FastmdFastSession");

  proto::Hello hello;
  hello.role = proto::Role::client;
  hello.pid = static_cast<std::uint32_t>(::getpid());
  auto given = [&](const char* key) { return !options.Get(key).IsUndefined(); };
  if (given("name")) hello.name = options.Get("name").As<Napi::String>();
  if (options.Get("wants").IsArray()) {
    Napi::Array wants = options.Get("wants").As<Napi::Array>();
    for (std::uint32_t i = 0; i < wants.Length(); ++i) {
      hello.wants.push_back(wants.Get(i).As<Napi::String>());
    }
  }
  if (given("maxFrame")) {
    hello.max_frame = static_cast<std::uint32_t>(to_u64(options.Get("maxFrame"), "maxFrame"));
  }
  if (given("inlineThreshold")) {
    inline_threshold_ = to_u64(options.Get("inlineThreshold"), "inlineThreshold");
  }

  // The core's control connection: the handshake, then the daemon's announcements decoded.
  auto started = ipc::detail::ControlConnection::start(path, hello);
  if (!started) throw_error(env_, started.error());

  NAPI_THROW_IF_FAILED_VOID(env_, napi_get_uv_event_loop(env_, &loop_));
  hold_ = std::make_unique<LoopHold>(loop_);
  control_ = std::move(*started);
  control_poll_ = std::make_unique<PollWatcher>(
      loop_, control_->fd(),
      [this](int status, int events) { from_loop([&] { on_control_ready(status, events); }); });
  control_->on_backlog([this] { control_poll_->want_writable(true); });
  update_hold();  // the handshake is in flight
}

FastSession::~FastSession() {
  close_all();
}

// ---- control connection ----------------------------------------------------------------

void FastSession::on_control_ready(int status, int events) {
  Napi::HandleScope scope(env_);
  if (status < 0) {
    end_control(Error{Errc::io_error, std::string("daemon connection: ") + uv_strerror(status)});
    return;
  }
  if (events & UV_WRITABLE) {
    proto::Status flushed = control_->flush();
    if (!flushed) return end_control(flushed.error());
    if (!control_->wants_write()) control_poll_->want_writable(false);
  }
  if (!(events & (UV_READABLE | UV_DISCONNECT))) return;
  proto::Result<bool> open = true;
  if (!ready_) {
    auto done = control_->handshake();
    if (!done) return end_control(done.error());
    if (!*done) return;
    begin_session();
    if (closed_ || !control_) return;  // JS closed the session from 'ready'
  } else {
    open = control_->receive();
  }
  for (;;) {
    auto event = control_->next();
    if (!event) return end_control(event.error());
    if (!*event) break;
    handle_control(**event);
    if (closed_ || !control_) return;  // JS closed the session from an event
  }
  if (!open) return end_control(open.error());
  if (!*open) end_control(Error{Errc::daemon_unreachable, "the daemon closed the connection"});
}

void FastSession::handle_control(ipc::detail::ControlEvent& event) {
  if (auto* intro = std::get_if<ipc::detail::Introduction>(&event)) {
    handle_introduce(*intro);
  } else if (auto* gone = std::get_if<proto::PeerGone>(&event)) {
    drop_peer(gone->peer, "peer_gone", Error{Errc::peer_gone, gone->reason});
  } else if (auto* draining = std::get_if<proto::PeerDraining>(&event)) {
    Napi::Object data = Napi::Object::New(env_);
    data.Set("peer", static_cast<double>(draining->peer));
    emit("peer_draining", data);
  } else if (auto* none = std::get_if<proto::NoWorker>(&event)) {
    Napi::Object data = Napi::Object::New(env_);
    data.Set("method", none->method);
    data.Set("waitMs", static_cast<double>(none->wait_ms));
    emit("no_worker", data);
  } else if (auto* shutdown = std::get_if<proto::Shutdown>(&event)) {
    Napi::Object data = Napi::Object::New(env_);
    data.Set("reason", shutdown->reason);
    emit("shutdown", data);
  } else if (auto* answer = std::get_if<ipc::detail::RequestAnswer>(&event)) {
    auto asked = wants_in_flight_.find(answer->id);
    if (asked == wants_in_flight_.end()) return;  // not ours to match: ignored
    // The daemon's answer to ipc.want: its code and message go to JS unchanged.
    Napi::Object data = Napi::Object::New(env_);
    data.Set("method", asked->second);
    data.Set("errno", static_cast<double>(answer->error ? answer->error->code : Errc::ok));
    data.Set("message", answer->error ? answer->error->message : std::string());
    wants_in_flight_.erase(asked);
    emit("want_answered", data);
  }
}

void FastSession::begin_session() {
  const proto::HelloReply& reply = control_->reply();
  // Without a usable segment, payloads go inline or through one-off memfds.
  own_segment_ = ipc::detail::open_own_segment(control_->take_segment_fd(), reply.segment);
  ready_ = true;
  update_hold();
  Napi::Object data = Napi::Object::New(env_);
  data.Set("session", static_cast<double>(reply.session));
  data.Set("daemon", reply.daemon);
  data.Set("segment", static_cast<double>(own_segment_ ? reply.segment->segment : 0));
  data.Set("segmentSize", static_cast<double>(own_segment_ ? reply.segment->size : 0));
  // Absent from a daemon that does not take ipc.want either.
  if (reply.no_worker_wait_ms) {
    data.Set("noWorkerWaitMs", static_cast<double>(*reply.no_worker_wait_ms));
  }
  emit("ready", data);
}

void FastSession::handle_introduce(ipc::detail::Introduction& intro) {
  auto peer = std::make_unique<Peer>();
  peer->session = intro.peer.peer;
  peer->max_frame = intro.peer.max_frame;
  if (intro.peer.segment && intro.segment) {
    auto segment = ipc::detail::open_peer_segment(std::move(intro.segment), intro.peer.segment);
    if (segment && *segment) {
      peer->segment = std::move(*segment);
      peer->held_results = std::make_shared<HeldResultBudget>(intro.peer.segment->size);
    }
  }
  peer->channel =
      std::make_unique<FramedSocket>(std::move(intro.channel), proto::DecodeLimits::data());
  const std::uint64_t id = intro.peer.peer;
  Peer* raw = peer.get();
  peer->poll =
      std::make_unique<PollWatcher>(loop_, peer->channel->fd(), [this, id](int status, int events) {
        from_loop([&] { on_peer_ready(id, status, events); });
      });
  peer->channel->on_backlog([raw] { raw->poll->want_writable(true); });
  peers_[id] = std::move(peer);

  Napi::Object data = Napi::Object::New(env_);
  data.Set("peer", static_cast<double>(id));
  data.Set("name", intro.peer.name);
  data.Set("pid", static_cast<double>(intro.peer.pid));
  data.Set("methods", method_names(env_, intro.peer.methods));
  data.Set("segment", static_cast<double>(raw->segment ? intro.peer.segment->segment : 0));
  emit("introduce", data);
}

void FastSession::end_control(const Error& why) {
  if (!control_) return;
  control_poll_.reset();
  control_.reset();
  const bool was_ready = ready_;
  ready_ = false;
  update_hold();
  // Established direct channels keep working (PROTOCOL.md §3.3); JS decides on reconnects.
  emit(was_ready ? "control_closed" : "failed", error_data(env_, why));
}

// ---- direct channels -------------------------------------------------------------------

void FastSession::on_peer_ready(std::uint64_t peer_id, int status, int events) {
  Napi::HandleScope scope(env_);
  auto found = peers_.find(peer_id);
  if (found == peers_.end()) return;
  Peer& peer = *found->second;
  if (status < 0) {
    drop_peer(peer_id, "peer_closed",
              Error{Errc::peer_gone, std::string("direct channel: ") + uv_strerror(status)});
    return;
  }
  if (events & UV_WRITABLE) {
    proto::Status flushed = peer.channel->flush();
    if (!flushed) return drop_peer(peer_id, "peer_closed", flushed.error());
    if (!peer.channel->wants_write()) peer.poll->want_writable(false);
  }
  if (!(events & (UV_READABLE | UV_DISCONNECT))) return;

  Answers answers(env_, answer_codes_);
  const std::optional<Error> failure = read_responses(peer, answers);
  update_hold();

  if (!answers.empty()) {
    try {
      on_responses_.MakeCallback(
          Value(),
          {Napi::Number::New(env_, static_cast<double>(peer_id)), answers.codes(), answers.values},
          *async_context_);
    } catch (const Napi::Error& error) {
      napi_fatal_exception(env_, error.Value());
    }
  }
  if (closed_) return;
  if (failure) {
    auto retired = peers_.find(peer_id);
    const bool retiring = retired != peers_.end() && retired->second->retiring;
    drop_peer(peer_id, "peer_closed",
              retiring ? Error{Errc::cancelled,
                               "the channel of an earlier daemon connection was closed once "
                               "its calls were settled"}
                       : *failure);
    return;
  }
  if (auto still = peers_.find(peer_id); still != peers_.end()) retire_if_settled(*still->second);
}

FastSession::Answers::Answers(Napi::Env env, Napi::Reference<Napi::Float64Array>& codes_buffer)
    : values(Napi::Array::New(env)), codes_buffer_(codes_buffer) {}

void FastSession::Answers::add(std::uint64_t id, Errc code, Napi::Value value) {
  codes_.push_back(static_cast<double>(id));
  codes_.push_back(static_cast<double>(code));
  values.Set(static_cast<std::uint32_t>(codes_.size() / 2 - 1), value);
}

Napi::Float64Array FastSession::Answers::codes() {
  if (codes_buffer_.IsEmpty() || codes_buffer_.Value().ElementLength() < codes_.size()) {
    codes_buffer_ = Napi::Persistent(
        Napi::Float64Array::New(values.Env(), std::max<std::size_t>(codes_.size(), 1024)));
  }
  Napi::Float64Array out = codes_buffer_.Value();
  std::copy(codes_.begin(), codes_.end(), out.Data());
  return out;
}

std::optional<Error> FastSession::read_responses(Peer& peer, Answers& answers) {
  auto open = peer.channel->receive();
  for (;;) {
    auto next = peer.channel->next();
    if (!next) return next.error();
    if (!*next) break;
    if ((*next)->message.is_response()) read_response(peer, **next, answers);
  }
  if (!open) return open.error();
  if (!*open) return Error{Errc::peer_gone, "the worker closed its channel"};
  return std::nullopt;
}

void FastSession::read_response(Peer& peer, Inbound& inbound, Answers& answers) {
  const proto::Message& message = inbound.message;
  auto call = peer.in_flight.find(message.id);
  const bool wanted = call != peer.in_flight.end();
  const ResultKind kind = wanted ? call->second : ResultKind::buffer;
  if (wanted) {
    peer.in_flight.erase(call);
    --in_flight_;
  }

  Errc code = Errc::ok;
  Napi::Value value;
  const auto fail = [&](const Error& error) {
    code = error.code;
    value = Napi::String::New(env_, error.message);
  };
  if (message.error) {
    fail(ipc::detail::error_of_answer(*message.error));
    if (!wanted) return;
    answers.add(message.id, code, value);
    return;
  }
  // A one-off result is mapped as a private copy: it may become a Buffer in place, and JS may
  // write to a Buffer (those writes stay in this process).
  auto resolved = ipc::detail::resolve_payload(message, inbound.fds, peer.segment.get(),
                                               shm::AttachedView::private_copy);
  if (!resolved) {
    fail(resolved.error());
  } else if (resolved->path == PayloadPath::inline_frame) {
    ++received_.inline_frames;
    if (wanted) value = make_result(env_, resolved->frame_bytes, kind);
  } else if (resolved->path == PayloadPath::oneoff_memfd) {
    ++received_.oneoff_memfds;
    if (wanted) value = make_result(env_, std::move(*resolved->attached), kind);  // sealed
  } else {
    ++received_.segment_blocks;
    // Released when `resolved` goes: copied or decoded by then, so the worker may reuse it;
    // or when V8 collects a Buffer made over it in place.
    shm::ReadBlock& block = *resolved->block;
    if (wanted && kind == ResultKind::buffer) {
      if (auto held = buffer_in_place(env_, block, peer.held_results)) {
        value = *held;
        ++received_.in_place;
      }
    }
    if (wanted && value.IsEmpty()) value = make_result(env_, block.bytes(), kind);
    // Checked again after the copy (payload.hpp, still_intact): such a result is lost with its
    // worker, and the call is re-sent like the worker's other calls.
    if (auto intact = ipc::detail::still_intact(*peer.segment, *message.shm); !intact) {
      fail(intact.error());
    }
  }
  if (!wanted) return;
  answers.add(message.id, code, value);
}

void FastSession::retire_if_settled(Peer& peer) {
  // JS supersedes only peers of an earlier session (one FastSession per daemon connection).
  const ipc::detail::ConnectionGeneration generation{.current = !peer.superseded,
                                                     .superseded = peer.superseded};
  if (peer.retiring || !generation.closes_now(peer.in_flight.size())) return;
  peer.retiring = true;
  peer.channel->shut_down();
  peer.poll->want_writable(false);
}

void FastSession::drop_peer(std::uint64_t peer_id, const char* event, const Error& why) {
  auto found = peers_.find(peer_id);
  if (found == peers_.end()) return;
  in_flight_ -= found->second->in_flight.size();
  peers_.erase(found);
  update_hold();
  Napi::Object data = error_data(env_, why);
  data.Set("peer", static_cast<double>(peer_id));
  emit(event, data);
}

// ---- requests --------------------------------------------------------------------------

void FastSession::count(PathCounts& counts, PayloadPath path) {
  switch (path) {
    case PayloadPath::inline_frame:
      ++counts.inline_frames;
      break;
    case PayloadPath::segment_block:
      ++counts.segment_blocks;
      break;
    case PayloadPath::oneoff_memfd:
      ++counts.oneoff_memfds;
      break;
  }
}

proto::Status FastSession::place_payload(const JsPayload& payload, const Peer& peer,
                                         ipc::detail::Outgoing& request) {
  const ipc::detail::PayloadPolicy policy{inline_threshold_, peer.max_frame,
                                          ipc::policy::kShmWaitOnEventLoop};
  proto::Status placed =
      ipc::detail::place_payload(payload, policy, own_segment_.get(), scratch_, request);
  if (placed) count(sent_, request.path);
  return placed;
}

FastSession::Peer& FastSession::peer_for(const Napi::CallbackInfo& info) {
  if (closed_) throw_error(env_, Error{Errc::peer_gone, "the fast transport is closed"});
  auto found = peers_.find(to_u64(info[0], "peer"));
  if (found == peers_.end()) {
    throw_error(env_, Error{Errc::peer_gone, "the worker's direct channel is closed"});
  }
  return *found->second;
}

Napi::Value FastSession::send(const Napi::CallbackInfo& info) {
  Peer& peer = peer_for(info);
  const std::uint64_t id = to_u64(info[1], "id");
  const std::string method = info[2].As<Napi::String>();
  const JsPayload payload = JsPayload::from(info[3]);
  const ResultKind kind = info[4].ToBoolean() ? ResultKind::string : ResultKind::buffer;

  ipc::detail::Outgoing request;
  request.message = proto::Message::request(id, method);
  proto::Status placed = place_payload(payload, peer, request);
  if (!placed) throw_error(env_, placed.error());
  // A broken channel (the worker died, EPIPE) gets the block back; the caller sends elsewhere.
  if (proto::Status sent = request.send_on(*peer.channel); !sent)
    throw_channel_failed(sent.error());
  peer.in_flight.emplace(id, kind);
  ++in_flight_;
  update_hold();
  return env_.Undefined();
}

Napi::Value FastSession::send_many(const Napi::CallbackInfo& info) {
  Peer& peer = peer_for(info);
  const std::uint64_t first_id = to_u64(info[1], "firstId");
  const std::string method = info[2].As<Napi::String>();
  const Napi::Array payloads = info[3].As<Napi::Array>();
  const std::uint64_t start = to_u64(info[4], "start");
  const std::uint64_t end = std::min<std::uint64_t>(to_u64(info[5], "end"), payloads.Length());
  // `as` says the kind of every result; undefined: each payload's own kind.
  const bool as_given = !info[6].IsUndefined();
  const ResultKind given_kind = info[6].ToBoolean() ? ResultKind::string : ResultKind::buffer;

  Napi::Array unplaced = Napi::Array::New(env_);
  std::vector<std::pair<std::uint64_t, ResultKind>> sent_calls;  // in flight once all is written
  sent_calls.reserve(end > start ? end - start : 0);
  ipc::detail::RequestBatch batch(*peer.channel);
  for (std::uint64_t index = start; index < end; ++index) {
    const JsPayload payload = JsPayload::from(payloads.Get(static_cast<std::uint32_t>(index)));
    ipc::detail::Outgoing request;
    request.message = proto::Message::request(first_id + index, method);
    proto::Status placed = place_payload(payload, peer, request);
    if (!placed) {
      const std::uint32_t at = unplaced.Length();
      unplaced.Set(at, static_cast<double>(index));
      unplaced.Set(at + 1, static_cast<double>(placed.error().code));
      unplaced.Set(at + 2, placed.error().message);
      continue;
    }
    const ResultKind own_kind = payload.is_string() ? ResultKind::string : ResultKind::buffer;
    sent_calls.emplace_back(request.message.id, as_given ? given_kind : own_kind);
    if (!batch.add(request)) break;
  }
  if (proto::Status written = batch.finish(); !written) throw_channel_failed(written.error());
  for (const auto& [id, kind] : sent_calls) peer.in_flight.emplace(id, kind);
  in_flight_ += sent_calls.size();
  update_hold();
  return unplaced;
}

Napi::Value FastSession::spin(const Napi::CallbackInfo& info) {
  const std::uint64_t peer_id = to_u64(info[0], "peer");
  const std::uint64_t id = to_u64(info[1], "id");
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::microseconds(to_u64(info[2], "spinUs"));
  Answers answers(env_, answer_codes_);
  for (;;) {
    auto found = peers_.find(peer_id);
    if (closed_ || found == peers_.end() || !found->second->in_flight.contains(id)) break;
    Peer& peer = *found->second;
    pollfd readable{peer.channel->fd(), POLLIN, 0};
    if (::poll(&readable, 1, 0) > 0) {
      const std::optional<Error> failure = read_responses(peer, answers);
      if (failure) {
        update_hold();
        drop_peer(peer_id, "peer_closed", *failure);
        break;
      }
    } else if (std::chrono::steady_clock::now() >= until) {
      break;
    } else {
      // Lets the worker have this core if it needs it: with more runnable threads than
      // free cores, a spin that never yields delays the very answer it waits for
      // (measured: 64 B p50 30 µs with the yield, 40-50 µs without, 38 µs not spinning).
      ::sched_yield();
    }
  }
  update_hold();
  if (answers.empty()) return env_.Undefined();
  Napi::Array found = Napi::Array::New(env_, 2);
  found.Set(0u, answers.codes());
  found.Set(1u, answers.values);
  return found;
}

void FastSession::throw_channel_failed(const Error& why) {
  throw_error(env_,
              Error{Errc::peer_gone, "the worker's direct channel failed: " + why.to_string()});
}

Napi::Value FastSession::cancel(const Napi::CallbackInfo& info) {
  Peer& peer = peer_for(info);
  proto::Cancel body;
  body.id = to_u64(info[1], "id");
  const proto::ByteBuffer bytes = proto::encode_body(body);
  proto::Status sent = peer.channel->send(proto::Message::notification(proto::kCancel, bytes));
  if (!sent) throw_error(env_, sent.error());
  return env_.Undefined();
}

Napi::Value FastSession::want(const Napi::CallbackInfo& info) {
  if (closed_ || !control_ || !ready_) {
    throw_error(env_, Error{Errc::daemon_unreachable, "the session's daemon connection is closed"});
  }
  std::string method = info[0].As<Napi::String>();
  const std::uint64_t id = next_request_id_++;
  proto::Status sent = control_->send_want(id, method);
  if (!sent) throw_error(env_, sent.error());
  wants_in_flight_.emplace(id, std::move(method));
  return env_.Undefined();
}

Napi::Value FastSession::abandon(const Napi::CallbackInfo& info) {
  auto found = peers_.find(to_u64(info[0], "peer"));
  if (found != peers_.end() && found->second->in_flight.erase(to_u64(info[1], "id")) > 0) {
    --in_flight_;
    update_hold();
    retire_if_settled(*found->second);
  }
  return env_.Undefined();
}

Napi::Value FastSession::retire(const Napi::CallbackInfo& info) {
  if (closed_) return env_.Undefined();
  auto found = peers_.find(to_u64(info[0], "peer"));
  if (found == peers_.end()) return env_.Undefined();
  found->second->superseded = true;
  retire_if_settled(*found->second);
  return env_.Undefined();
}

// A draining worker (ipc.peer_draining) whose calls are all answered: its channel is closed,
// so it can stop sooner (PROTOCOL.md §3.11). Emits 'peer_closed' like any end of a channel.
Napi::Value FastSession::close_peer(const Napi::CallbackInfo& info) {
  drop_peer(to_u64(info[0], "peer"), "peer_closed",
            Error{Errc::cancelled, "the worker was draining and had no call of this client left"});
  return env_.Undefined();
}

Napi::Value FastSession::close(const Napi::CallbackInfo&) {
  close_all();
  return env_.Undefined();
}

Napi::Value FastSession::stats(const Napi::CallbackInfo&) {
  auto counts = [&](const PathCounts& c) {
    Napi::Object out = Napi::Object::New(env_);
    out.Set("inline", c.inline_frames);
    out.Set("segment", c.segment_blocks);
    out.Set("oneoff", c.oneoff_memfds);
    return out;
  };
  Napi::Object out = Napi::Object::New(env_);
  out.Set("sent", counts(sent_));
  Napi::Object received = counts(received_);
  received.Set("inPlace", received_.in_place);
  out.Set("received", received);
  double held = 0;
  for (const auto& [id, peer] : peers_) {
    if (peer->held_results) held += static_cast<double>(peer->held_results->held());
  }
  out.Set("heldBytes", held);
  return out;
}

// ---- plumbing --------------------------------------------------------------------------

void FastSession::emit(const char* kind, Napi::Object data) {
  if (closed_) return;
  try {
    on_event_.MakeCallback(Value(), {Napi::String::New(env_, kind), data}, *async_context_);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env_, error.Value());
  }
}

void FastSession::update_hold() {
  if (!hold_) return;
  const bool handshaking = control_ != nullptr && !ready_;
  hold_->set_busy(!closed_ && (handshaking || in_flight_ > 0));
}

void FastSession::close_all() {
  if (closed_) return;
  closed_ = true;
  peers_.clear();
  control_poll_.reset();
  control_.reset();
  own_segment_.reset();
  in_flight_ = 0;
  hold_.reset();
}

}  // namespace fastmd::node
