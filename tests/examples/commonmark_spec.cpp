// commonmark_spec.cpp — the spec.txt example format: a fence of 32 backticks and " example",
// the Markdown, a line ".", the HTML, a closing fence; headings name the sections.
#include "commonmark_spec.hpp"

#include <fstream>
#include <stdexcept>

namespace fastmd::test {

namespace {

const std::string kFence(32, '`');

// The spec writes tabs as '→' (U+2192) so they can be seen.
std::string with_tabs(const std::string& text) {
  static constexpr std::string_view kArrow = "\u2192";
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    if (text.compare(at, kArrow.size(), kArrow) == 0) {
      out += '\t';
      at += kArrow.size();
    } else {
      out += text[at++];
    }
  }
  return out;
}

}  // namespace

std::string commonmark_spec_path() {
  return std::string(FASTMD_SOURCE_DIR) + "/sdk-node/node_modules/commonmark-spec/spec.txt";
}

std::vector<SpecExample> load_commonmark_spec(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    throw std::runtime_error("the CommonMark spec is missing at " + path +
                             ": run scripts/setup (it installs sdk-node's pinned devDependency "
                             "commonmark-spec)");
  }
  std::vector<SpecExample> examples;
  enum class In { text, markdown, html } in = In::text;
  std::string section;
  SpecExample current;
  for (std::string line; std::getline(file, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (in == In::text) {
      if (line.starts_with("<!-- END TESTS -->")) break;
      if (line == kFence + " example") {
        current = SpecExample{static_cast<int>(examples.size()) + 1, section, {}, {}};
        in = In::markdown;
      } else if (line.starts_with("#")) {
        const std::size_t hashes = line.find_first_not_of('#');
        if (hashes != std::string::npos && hashes <= 6 && line[hashes] == ' ') {
          section = line.substr(line.find_first_not_of(' ', hashes));
        }
      }
    } else if (in == In::markdown) {
      if (line == ".") {
        in = In::html;
      } else {
        current.markdown += line + "\n";
      }
    } else if (line == kFence) {
      current.markdown = with_tabs(current.markdown);
      current.html = with_tabs(current.html);
      examples.push_back(std::move(current));
      in = In::text;
    } else {
      current.html += line + "\n";
    }
  }
  return examples;
}

}  // namespace fastmd::test
