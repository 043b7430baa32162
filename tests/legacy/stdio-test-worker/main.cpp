// fastmd-test-stdio-worker — a worker for the legacy path's tests on every platform, Windows
// included: it is built on run_worker_main() with portable code only, so the very source
// scripts/test cross-compiles for Windows and runs under Wine (docs/platforms.md). Methods:
// echo (its params back), fail (throws, so HANDLER_FAILED with the text given) and sleep
// (params: milliseconds as text; sleeps, then returns them).
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "fastmd/ipc/worker_main.hpp"

namespace {

void echo(fastmd::ipc::ByteView params, fastmd::ipc::ResultWriter& out) {
  out.append(params);
}

void fail(fastmd::ipc::ByteView params, fastmd::ipc::ResultWriter&) {
  throw std::runtime_error(std::string(fastmd::proto::as_chars(params)));
}

void sleep_then_answer(fastmd::ipc::ByteView params, fastmd::ipc::ResultWriter& out) {
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::stoul(std::string(fastmd::proto::as_chars(params)))));
  out.append(params);
}

}  // namespace

int main(int argc, char** argv) {
  return fastmd::ipc::run_worker_main(
      argc, argv,
      {.name = "fastmd-test-stdio-worker",
       .version = FASTMD_VERSION,
       .description = "fastmd-test-stdio-worker: the legacy path's test worker, built for every "
                      "platform",
       .footer = "Methods: echo (the input back), fail (fails with the input as its message), "
                 "sleep (milliseconds as text: sleeps, then answers them).",
       .methods = [](unsigned concurrency) {
         fastmd::ipc::MethodTable methods;
         methods.add("echo", echo, concurrency);
         methods.add("fail", fail, concurrency);
         methods.add("sleep", sleep_then_answer, concurrency);
         return methods;
       }});
}
