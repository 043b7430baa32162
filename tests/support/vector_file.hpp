// vector_file.hpp — reading proto/vectors/*.json in tests: the parsed file, and the hex
// strings the vectors give bytes as. Header-only, for any part's tests (fastmd_test_vectors).
#pragma once

#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

namespace fastmd::testing {

/// proto/vectors/<name>, parsed; fails the test when it is missing or not JSON.
inline rapidjson::Document load_vector_file(const std::string& name) {
  std::ifstream in(std::string(FASTMD_SOURCE_DIR) + "/proto/vectors/" + name);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

inline std::vector<std::byte> from_hex(std::string_view hex) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

inline std::string to_hex(const std::byte* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[std::to_integer<int>(bytes[i]) >> 4];
    out += kDigits[std::to_integer<int>(bytes[i]) & 15];
  }
  return out;
}

}  // namespace fastmd::testing
