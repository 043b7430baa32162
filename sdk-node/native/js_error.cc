// The core's errors as JS Errors (see js_error.hpp).
#include "js_error.hpp"

#include <string>

namespace fastmd::node {

Napi::Error js_error(Napi::Env env, const proto::Error& error) {
  Napi::Error js = Napi::Error::New(env, error.message);
  js.Set("code", "FASTMD_" + std::string(proto::errc_name(error.code)));
  js.Set("errno", static_cast<double>(error.code));
  return js;
}

void throw_error(Napi::Env env, const proto::Error& error) {
  throw js_error(env, error);
}

}  // namespace fastmd::node
