// The @fastmd/ipc addon's entry point: exports FastClient (fast_client.hpp), and what JS
// must not keep copies of: the socket-path rule shared with the daemon and the C++ SDK, the
// call policy (fastmd/ipc/call_policy.hpp), the protocol's error codes (fastmd/proto/error.hpp)
// and the platform layer it was built with (fastmd/platform/capabilities.hpp).
#include <napi.h>

#include <chrono>
#include <string>

#include "fast_client.hpp"
#include "fastmd/ipc/call_policy.hpp"
#include "fastmd/ipc/socket_path.hpp"
#include "fastmd/platform/capabilities.hpp"
#include "fastmd/proto/error.hpp"
#include "js_payload.hpp"
#include "locate_daemon.hpp"

namespace fastmd::node {
namespace {

// resolveSocketPath(configured?): the option, else $FASTMD_IPC_SOCKET, else the default.
Napi::Value resolve_socket_path(const Napi::CallbackInfo& info) {
  std::string configured;
  if (info.Length() > 0 && info[0].IsString()) configured = info[0].As<Napi::String>();
  return Napi::String::New(info.Env(), ipc::resolve_socket_path(configured));
}

double ms(std::chrono::milliseconds value) {
  return static_cast<double>(value.count());
}

// policy: fastmd/ipc/call_policy.hpp's numbers, frozen, named as lib/policy.json names them
// (kName → name, + "Ms" or "Us" for durations; scripts/generate-core-tables.js).
Napi::Object call_policy(Napi::Env env) {
  using namespace ipc::policy;
  Napi::Object out = Napi::Object::New(env);
  out.Set("maxSendsPerCall", static_cast<double>(kMaxSendsPerCall));
  out.Set("handshakeTimeoutMs", ms(kHandshakeTimeout));
  out.Set("reconnectMinMs", ms(kReconnectMin));
  out.Set("reconnectMaxMs", ms(kReconnectMax));
  out.Set("daemonAnswerMarginMs", ms(kDaemonAnswerMargin));
  out.Set("noWorkerWaitUnannouncedMs", ms(kNoWorkerWaitUnannounced));
  out.Set("shmWaitMs", ms(kShmWait));
  out.Set("shmWaitOnEventLoopMs", ms(kShmWaitOnEventLoop));
  out.Set("spinLearnedMaxUs", static_cast<double>(kSpinLearnedMax.count()));
  out.Set("spinLearnedMinUs", static_cast<double>(kSpinLearnedMin.count()));
  out.Set("cpuLoadSampleEveryMs", ms(kCpuLoadSampleEvery));
  out.Set("spinHoldMaxMs", ms(kSpinHoldMax));
  out.Set("ringBytes", static_cast<double>(kRingBytes));
  out.Set("batchWriteBytes", static_cast<double>(kBatchWriteBytes));
  out.Set("heldResultsSegmentDivisor", static_cast<double>(kHeldResultsSegmentDivisor));
  out.Set("notRunAnswer", static_cast<double>(kNotRunAnswer));
  out.Freeze();
  return out;
}

// errno: PROTOCOL.md §6 as {NAME: number}, frozen (fastmd/proto/error.hpp's kErrcTable).
Napi::Object error_numbers(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& info : proto::kErrcTable) {
    out.Set(std::string(info.name), static_cast<double>(info.code));
  }
  out.Freeze();
  return out;
}

// platform: what the linked platform layer does (docs/platforms.md), frozen, for
// transportInfo.platform: a degraded (posix) build is visible to the application.
Napi::Object platform_layer(Napi::Env env) {
  const platform::Capabilities& layer = platform::capabilities();
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", layer.name);
  out.Set("memoryBacking", layer.memory_backing);
  out.Set("sealing", layer.sealing);
  out.Set("poller", layer.poller);
  out.Set("liveness", layer.liveness);
  out.Set("credentials", layer.credentials);
  out.Freeze();
  return out;
}

}  // namespace
}  // namespace fastmd::node

static Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
  fastmd::node::init_result_strings();
  exports.Set("FastClient", fastmd::node::FastClient::define(env));
  exports.Set("resolveSocketPath", Napi::Function::New<fastmd::node::resolve_socket_path>(env));
  exports.Set("policy", fastmd::node::call_policy(env));
  exports.Set("errno", fastmd::node::error_numbers(env));
  exports.Set("platform", fastmd::node::platform_layer(env));
  exports.Set("locateDaemon", Napi::Function::New<fastmd::node::locate_daemon>(env));
  return exports;
}

NODE_API_MODULE(fastmd_ipc, init_addon)
