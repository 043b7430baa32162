// js_error.hpp — the core's errors as JS sees them: an Error whose `code` is 'FASTMD_<NAME>'
// and whose `errno` is the number (PROTOCOL.md §6), made in this one place for every export
// of the addon. lib/errors.js gives them their class.
#pragma once

#include <napi.h>

#include "fastmd/proto/error.hpp"

namespace fastmd::node {

/// The JS Error for `error`.
Napi::Error js_error(Napi::Env env, const proto::Error& error);

/// Throws js_error(env, error).
[[noreturn]] void throw_error(Napi::Env env, const proto::Error& error);

}  // namespace fastmd::node
