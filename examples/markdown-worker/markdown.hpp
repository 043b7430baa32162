// markdown.hpp — the reference job: Markdown to HTML with md4c-html, GitHub dialect. One
// function, used by fastmd-worker-md's handlers, the conformance test and the benchmarks, so
// every path renders with exactly the same call.
#pragma once

#include <string>
#include <string_view>

#include "fastmd/ipc/handler.hpp"

namespace fastmd::examples {

/// Renders `markdown` to HTML (md_html() with MD_DIALECT_GITHUB) and appends it to `out`.
/// Throws std::runtime_error when md4c fails (it only fails when out of memory).
///
///     std::string html;
///     fastmd::examples::markdown_to_html("# Hi\n", html);   // html == "<h1>Hi</h1>\n"
void markdown_to_html(std::string_view markdown, ipc::ResultWriter& out);

/// The same, appending to a string.
void markdown_to_html(std::string_view markdown, std::string& out);

/// The methods of fastmd-worker-md: `transform` (Markdown in, HTML out), `echo` (returns its
/// payload) and `length` (returns the payload's length as decimal text: a one-way transfer),
/// each allowed `concurrency` calls at once.
ipc::MethodTable markdown_methods(std::uint32_t concurrency);

}  // namespace fastmd::examples
