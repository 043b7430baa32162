// The addon's locateDaemon (see locate_daemon.hpp).
#include "locate_daemon.hpp"

#include <optional>
#include <string>
#include <vector>

#include "daemon_locator.hpp"
#include "fastmd/proto/error.hpp"
#include "js_error.hpp"

namespace fastmd::node {
namespace {

using ipc::detail::AutoChoice;
using ipc::detail::LocateOptions;

class LocateWorker final : public Napi::AsyncWorker {
 public:
  LocateWorker(Napi::Env env, LocateOptions options, bool rollout)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        options_(std::move(options)),
        rollout_(rollout) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    if (rollout_) {
      choice_ = ipc::detail::choose_auto(options_);
      return;
    }
    auto location = ipc::detail::locate_daemon(options_);
    if (location) {
      choice_ = AutoChoice{true, std::move(*location), {}};
    } else {
      choice_ = location.error();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!*choice_) {
      deferred_.Reject(js_error(env, choice_->error()).Value());
      return;
    }
    const AutoChoice& choice = **choice_;
    Napi::Object result = Napi::Object::New(env);
    result.Set("transport", choice.fast ? "fast" : "legacy");
    result.Set("socketPath", choice.location.socket_path);
    result.Set("source", std::string(ipc::detail::daemon_source_name(choice.location.source)));
    result.Set("reason", choice.reason);
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  LocateOptions options_;
  bool rollout_;
  std::optional<proto::Result<AutoChoice>> choice_;
};

}  // namespace

Napi::Value locate_daemon(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "locateDaemon(options) takes an options object");
  }
  const Napi::Object options = info[0].As<Napi::Object>();
  LocateOptions locate;
  if (Napi::Value socket = options.Get("socket"); socket.IsString()) {
    locate.socket_path = socket.As<Napi::String>();
  }
  if (Napi::Value dirs = options.Get("callerDirs"); dirs.IsArray()) {
    const Napi::Array array = dirs.As<Napi::Array>();
    for (std::uint32_t i = 0; i < array.Length(); ++i) {
      if (Napi::Value dir = array.Get(i); dir.IsString()) {
        locate.caller_dirs.push_back(dir.As<Napi::String>());
      }
    }
  }
  if (Napi::Value timeout = options.Get("startTimeoutMs"); timeout.IsNumber()) {
    locate.start_timeout = std::chrono::milliseconds(timeout.As<Napi::Number>().Int64Value());
  }
  const bool rollout = options.Get("rollout").ToBoolean();
  auto* worker = new LocateWorker(env, std::move(locate), rollout);
  Napi::Promise promise = worker->promise();
  worker->Queue();  // the worker deletes itself after OnOK
  return promise;
}

}  // namespace fastmd::node
