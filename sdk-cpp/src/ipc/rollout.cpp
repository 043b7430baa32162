// The rollout decision (see rollout.hpp).
#include "rollout.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>

#include "fastmd/platform/process_info.hpp"

namespace fastmd::ipc::detail {

namespace {

// splitmix64's finaliser: consecutive pids land in unrelated buckets.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

unsigned rollout_bucket() {
  static const unsigned bucket = static_cast<unsigned>(
      mix((static_cast<std::uint64_t>(::getpid()) << 32) ^ platform::own_start_time()) % 100);
  return bucket;
}

proto::Result<RolloutDecision> rollout_decision() {
  const char* value = std::getenv(std::string(kRolloutEnv).c_str());
  if (value == nullptr || *value == '\0') return RolloutDecision{};
  const std::string_view text = value;
  unsigned percent = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), percent);
  if (error != std::errc{} || end != text.data() + text.size() || percent > 100) {
    return proto::Error{proto::Errc::invalid_field,
                        std::string(kRolloutEnv) + " must be an integer from 0 to 100 (the " +
                            "percentage of processes that use the fast path), not '" +
                            std::string(text) + "'"};
  }
  const unsigned bucket = rollout_bucket();
  if (bucket < percent) return RolloutDecision{};
  return RolloutDecision{false, std::string(kRolloutEnv) + "=" + std::to_string(percent) +
                                    " puts this process (bucket " + std::to_string(bucket) +
                                    " of 0-99) on the legacy path"};
}

}  // namespace fastmd::ipc::detail
