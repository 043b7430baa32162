// commonmark_spec.hpp — the examples of the CommonMark spec, read from the spec.txt of the npm
// package `commonmark-spec` that sdk-node pins (installed by scripts/setup), parsed exactly as
// the package's index.js does, with '→' standing for a tab as the spec's own runners do.
#pragma once

#include <string>
#include <vector>

namespace fastmd::test {

struct SpecExample {
  int number = 0;
  std::string section;
  std::string markdown;
  std::string html;  // the spec's expected output
};

/// Where scripts/setup puts the spec.
std::string commonmark_spec_path();

/// Every example of the spec at `path`; throws std::runtime_error, saying to run scripts/setup,
/// when the file is missing.
std::vector<SpecExample> load_commonmark_spec(const std::string& path = commonmark_spec_path());

}  // namespace fastmd::test
