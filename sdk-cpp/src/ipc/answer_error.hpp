// answer_error.hpp — what an error answer from a worker becomes for the caller, in one place
// for the C++ Client and the Node addon. An answer's code is the peer's word: code 0 (OK) in
// an error is no error at all and a code this version does not know cannot be acted on, so
// both fail the call with INVALID_FIELD naming the code — never a result, never a forged
// success (PROTOCOL.md §6).
#pragma once

#include <string>

#include "fastmd/proto/message.hpp"

namespace fastmd::ipc::detail {

/// The error a call fails with when its answer carries `error`.
inline proto::Error error_of_answer(const proto::ErrorView& error) {
  const auto number = static_cast<std::uint64_t>(error.code);
  if (error.code == proto::Errc::ok || proto::find_errc(number) == nullptr) {
    return proto::Error{proto::Errc::invalid_field,
                        "the worker answered with error code " + std::to_string(number) +
                            (error.code == proto::Errc::ok ? " (OK, which is no error)"
                                                           : " (unknown to this version)") +
                            ": " + std::string(error.message)};
  }
  return proto::Error{error.code, std::string(error.message)};
}

}  // namespace fastmd::ipc::detail
