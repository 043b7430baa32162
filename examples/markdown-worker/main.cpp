// fastmd-worker-md — the reference transformer: methods `transform` (Markdown → HTML with md4c,
// GitHub dialect), `echo` and `length`. fastmd::ipc::run_worker_main() gives it both modes: by
// default it serves the fast path through fastmd-ipcd, with --stdio NDJSON on stdin/stdout (the
// legacy path). Its options: `fastmd-worker-md --help`, man fastmd-worker-md(1).
#include "fastmd/ipc/worker_main.hpp"
#include "markdown.hpp"

int main(int argc, char** argv) {
  return fastmd::ipc::run_worker_main(
      argc, argv,
      {.name = "fastmd-worker-md",
       .version = FASTMD_VERSION,
       .description = "fastmd-worker-md: the reference Markdown to HTML worker (md4c, GitHub "
                      "dialect), on the fast path through fastmd-ipcd or, with --stdio, as an "
                      "NDJSON server on stdin/stdout",
       .footer = "Methods: transform (Markdown in, HTML out), echo (the input back), length "
                 "(the input's length in bytes, as decimal text).",
       .methods = [](unsigned concurrency) {
         return fastmd::examples::markdown_methods(concurrency);
       }});
}
