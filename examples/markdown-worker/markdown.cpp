// markdown.cpp — md4c-html behind the ResultWriter seam.
#include "markdown.hpp"

#include <md4c-html.h>

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

}  // namespace

void markdown_to_html(std::string_view markdown, ipc::ResultWriter& out) {
  render(
      markdown,
      [](const MD_CHAR* text, MD_SIZE size, void* writer) {
        static_cast<ipc::ResultWriter*>(writer)->append(std::string_view(text, size));
      },
      &out);
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
