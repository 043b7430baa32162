// markdown.cpp — md4c-html behind the ResultWriter seam.
#include "markdown.hpp"

#include <md4c-html.h>

#include <array>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastmd::examples {

namespace {

void render(std::string_view markdown, void (*sink)(const MD_CHAR*, MD_SIZE, void*), void* out) {
  if (markdown.size() > std::numeric_limits<MD_SIZE>::max()) {
    throw std::length_error("md4c renders documents up to 4 GiB");
  }
  if (md_html(markdown.data(), static_cast<MD_SIZE>(markdown.size()), sink, out, MD_DIALECT_GITHUB,
              0) != 0) {
    throw std::runtime_error("md4c failed to render the document (out of memory)");
  }
}

// md4c-html emits a document in many small pieces (a tag, a few bytes of text): they are
// gathered here and go to the ResultWriter a chunk at a time, so the writer's virtual call
// and bookkeeping are paid per chunk, not per piece (they were 7.6% of a worker's CPU on the
// Markdown corpus, perf).
class ChunkedWriter {
 public:
  explicit ChunkedWriter(ipc::ResultWriter& out) : out_(out) {}
  ChunkedWriter(const ChunkedWriter&) = delete;
  ChunkedWriter& operator=(const ChunkedWriter&) = delete;

  void append(const char* text, std::size_t size) {
    if (size > chunk_.size() - used_) {
      flush();
      if (size >= chunk_.size()) {
        out_.append(std::string_view(text, size));
        return;
      }
    }
    std::memcpy(chunk_.data() + used_, text, size);
    used_ += size;
  }

  void flush() {
    if (used_ == 0) return;
    out_.append(std::string_view(chunk_.data(), used_));
    used_ = 0;
  }

 private:
  ipc::ResultWriter& out_;
  std::array<char, 16 * 1024> chunk_;
  std::size_t used_ = 0;
};

}  // namespace

void markdown_to_html(std::string_view markdown, ipc::ResultWriter& out) {
  ChunkedWriter chunked(out);
  render(
      markdown,
      [](const MD_CHAR* text, MD_SIZE size, void* writer) {
        static_cast<ChunkedWriter*>(writer)->append(text, size);
      },
      &chunked);
  chunked.flush();
}

void markdown_to_html(std::string_view markdown, std::string& out) {
  render(
      markdown,
      [](const MD_CHAR* text, MD_SIZE size, void* string) {
        static_cast<std::string*>(string)->append(text, size);
      },
      &out);
}

ipc::MethodTable markdown_methods(std::uint32_t concurrency) {
  ipc::MethodTable methods;
  methods.add(
      "transform",
      [](proto::ByteView params, ipc::ResultWriter& out) {
        markdown_to_html(proto::as_chars(params), out);
      },
      concurrency);
  methods.add(
      "echo", [](proto::ByteView params, ipc::ResultWriter& out) { out.append(params); },
      concurrency);
  // A one-way transfer for benchmarks: the payload arrives (in place, when it came through
  // shared memory) and only its length, as decimal text, goes back.
  methods.add(
      "length",
      [](proto::ByteView params, ipc::ResultWriter& out) {
        out.append(std::to_string(params.size()));
      },
      concurrency);
  return methods;
}

}  // namespace fastmd::examples
