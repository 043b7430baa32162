// The @fastmd/ipc addon's entry point: exports FastSession (fast_session.hpp) and the
// socket-path rule shared with the daemon and the C++ SDK.
#include <napi.h>

#include "fast_session.hpp"
#include "fastmd/ipc/socket_path.hpp"
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

}  // namespace
}  // namespace fastmd::node

static Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
  fastmd::node::init_result_strings();
  exports.Set("FastSession", fastmd::node::FastSession::define(env));
  exports.Set("resolveSocketPath", Napi::Function::New<fastmd::node::resolve_socket_path>(env));
  exports.Set("locateDaemon", Napi::Function::New<fastmd::node::locate_daemon>(env));
  return exports;
}

NODE_API_MODULE(fastmd_ipc, init_addon)
