// word-stats-worker — an out-of-tree fastmd-ipc worker with one custom method, `word-stats`:
// UTF-8 text in, "<lines> <words> <bytes>" out (as wc(1) counts them). One main serves both
// paths: the fast path through fastmd-ipcd by default, NDJSON on stdin/stdout with --stdio
// (what the Node SDK spawns when it falls back to the legacy path).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fastmd/ipc/worker_main.hpp"  // run_worker_main, and through it MethodTable, ...

namespace {

// A handler reads `params` (bytes, valid during the call only) and writes its result to `out`.
void word_stats(fastmd::ipc::ByteView params, fastmd::ipc::ResultWriter& out) {
  // ByteView is std::span<const std::byte>; as_chars() views the same bytes as text, no copy.
  std::string_view text = fastmd::proto::as_chars(params);
  if (text.find('\0') != std::string_view::npos) {
    // Any exception fails this call (HANDLER_FAILED with its what()); the worker keeps
    // serving. Throw fastmd::ipc::CallError for a specific fastmd::proto::Errc.
    throw std::invalid_argument("word-stats counts text: the input has a NUL byte");
  }
  std::uint64_t lines = 0, words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
    if (c == '\n') ++lines;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  out.append(std::to_string(lines) + " " + std::to_string(words) + " " +
             std::to_string(text.size()));
}

}  // namespace

int main(int argc, char** argv) {
  return fastmd::ipc::run_worker_main(
      argc, argv,
      {.name = "word-stats-worker",
       .version = "1.0.0",
       .description = "word-stats-worker: counts lines, words and bytes of text (a fastmd-ipc "
                      "worker built against the installed SDK)",
       .footer = "Method: word-stats (text in, \"<lines> <words> <bytes>\" out).",
       .methods = [](unsigned concurrency) {
         fastmd::ipc::MethodTable methods;
         methods.add("word-stats", word_stats, concurrency);
         return methods;
       }});
}
