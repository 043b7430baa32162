// codec_consumer_o3 — a user's program calling the codec's inline error paths, built at -O3
// with the project's -Wall -Wextra (-Werror in CI), as a consumer's Release build inlines
// them. GCC 12 once warned -Wrestrict here (`"'" + std::string(field)`); the build fails if it
// comes back, and the run checks the messages those paths build.
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "fastmd/proto/codec.hpp"

namespace {

bool expect(const fastmd::proto::Error& error, std::string_view message) {
  if (error.message == message) return true;
  std::fprintf(stderr, "expected \"%.*s\", got \"%s\"\n", static_cast<int>(message.size()),
               message.data(), error.message.c_str());
  return false;
}

}  // namespace

int main() {
  msgpack::object text;
  text.type = msgpack::type::STR;
  text.via.str.ptr = "x";
  text.via.str.size = 1;
  msgpack::object big;
  big.type = msgpack::type::POSITIVE_INTEGER;
  big.via.u64 = std::uint64_t{1} << 40;

  auto not_a_number = fastmd::proto::read_uint<std::uint32_t>(text, "id");
  auto too_big = fastmd::proto::read_uint<std::uint16_t>(big, "version");
  bool ok = !not_a_number && !too_big &&
            expect(not_a_number.error(), "'id' must be an unsigned integer") &&
            expect(too_big.error(), "'version' is out of range");
  return ok ? 0 : 1;
}
