// The daemon's pool of segments (see memory/pools.hpp).
#include "memory/pools.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/shm/segment.hpp"

namespace fastmd::daemon {

proto::Result<PoolBacking> parse_pool_backing(std::string_view name) {
  if (name == "memfd") return PoolBacking::memfd;
  if (name == "shm") return PoolBacking::shm;
  return proto::Error{proto::Errc::invalid_field,
                      "pool backing '" + std::string(name) + "' is not 'memfd' or 'shm'"};
}

std::string_view pool_backing_name(PoolBacking backing) {
  return backing == PoolBacking::memfd ? "memfd" : "shm";
}

struct SegmentLease::State {
  struct Slot {
    platform::UniqueFd fd;
    platform::Mapping mapping;  // the daemon's own view: headers on lease, zeroing on return
    std::string name;           // shm backing: the object's name, unlinked with the pool
    std::uint32_t generation = 1;
    bool leased = false;
    std::uint64_t session = 0;
    uid_t uid = 0;
  };

  PoolOptions options;
  std::vector<Slot> slots;
  std::set<std::uint64_t> sessions;        // sessions holding a lease
  std::map<uid_t, std::uint32_t> per_uid;  // leases per uid
  PoolStats counters;

  ~State() {
    for (const auto& slot : slots) {
      if (!slot.name.empty()) (void)platform::unlink_shm_object(slot.name);
    }
  }

  // A slot's memory: the backing object, mapped and pre-faulted.
  static proto::Status make_memory(const PoolOptions& options, std::uint32_t index, Slot& slot);
  // Gives slot `index` new memory (see give_back); false, the slot unchanged, on failure.
  bool renew_backing(std::uint32_t index);

  proto::SegmentInfo info(std::uint32_t slot) const {
    return {slot + 1, options.segment_size, slots[slot].generation};
  }

  void give_back(std::uint32_t index) {
    Slot& slot = slots[index];
    // The next owner must not see this session's bytes (it may be another uid). Its peers
    // may still map the old memory: a Node client keeps result Buffers over a worker's
    // blocks after the worker is gone (docs/sdk-node.md). So the slot gets fresh, pre-faulted
    // memory, and the old stays unchanged with whoever maps it until they let go (the pages
    // are freed then). Only when fresh memory cannot be had is the old zeroed in place.
    if (!renew_backing(index)) std::memset(slot.mapping.data(), 0, slot.mapping.size());
    slot.generation = slot.generation == UINT32_MAX ? 1 : slot.generation + 1;
    slot.leased = false;
    sessions.erase(slot.session);
    if (auto it = per_uid.find(slot.uid); it != per_uid.end() && --it->second == 0) {
      per_uid.erase(it);
    }
    --counters.segments_in_use;
    counters.bytes_in_use -= options.segment_size;
    ++counters.reclaims;
  }
};

// ---- SegmentLease ----

SegmentLease::SegmentLease(SegmentLease&& other) noexcept
    : state_(std::move(other.state_)), slot_(other.slot_), session_(other.session_) {}

SegmentLease& SegmentLease::operator=(SegmentLease&& other) noexcept {
  if (this != &other) {
    if (state_) state_->give_back(slot_);
    state_ = std::move(other.state_);
    slot_ = other.slot_;
    session_ = other.session_;
  }
  return *this;
}

SegmentLease::~SegmentLease() {
  if (state_) state_->give_back(slot_);
}

proto::SegmentInfo SegmentLease::info() const {
  return state_->info(slot_);
}

int SegmentLease::fd() const {
  return state_->slots[slot_].fd.get();
}

// ---- Pools ----

namespace {

proto::Status validate(const PoolOptions& o) {
  if (o.pool_size < kMinPoolSize || o.pool_size > kMaxPoolSize) {
    return proto::Error{
        proto::Errc::invalid_field,
        "the pool size must be 10 to 512 MiB, not " + std::to_string(o.pool_size / kMiB) + " MiB"};
  }
  if (o.segment_size < 64 * 1024 || o.segment_size % 4096 != 0 || o.segment_size > o.pool_size) {
    return proto::Error{proto::Errc::invalid_field,
                        "the segment size must be a multiple of 4 KiB from 64 KiB up to the "
                        "pool size, not " +
                            std::to_string(o.segment_size) + " bytes"};
  }
  return {};
}

proto::Result<platform::UniqueFd> create_backing(const PoolOptions& o, std::uint32_t segment,
                                                 std::string& name) {
  if (o.backing == PoolBacking::memfd) {
    const std::string label = "fastmd-segment-" + std::to_string(segment);
    auto fd = platform::create_memfd(label.c_str(), o.segment_size);
    if (!fd) return fd.error();
    if (auto sealed = platform::add_seals(fd->get(), platform::kSegmentSeals); !sealed) {
      return sealed.error();
    }
    return fd;
  }
  name = "/fastmd-" + std::to_string(::geteuid()) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(segment);
  return platform::create_shm_object(name, o.segment_size);
}

// Faults every page in now, so no session pays for it later. MADV_HUGEPAGE (when asked)
// must come first to have any effect on how the pages are allocated.
proto::Status prefault(platform::Mapping& mapping, bool huge_pages) {
  if (huge_pages) {
    if (auto advised = mapping.advise(MADV_HUGEPAGE); !advised) return advised;
  }
  if (mapping.advise(MADV_POPULATE_WRITE)) return {};
  std::memset(mapping.data(), 0, mapping.size());  // kernels before 5.14
  return {};
}

}  // namespace

proto::Status SegmentLease::State::make_memory(const PoolOptions& options, std::uint32_t index,
                                               Slot& slot) {
  auto fd = create_backing(options, index + 1, slot.name);
  if (!fd) return fd.error();
  auto mapping =
      platform::Mapping::map(fd->get(), static_cast<std::size_t>(options.segment_size), true);
  if (!mapping) return mapping.error();
  if (auto faulted = prefault(*mapping, options.huge_pages); !faulted) return faulted;
  slot.fd = std::move(*fd);
  slot.mapping = std::move(*mapping);
  return {};
}

bool SegmentLease::State::renew_backing(std::uint32_t index) {
  Slot& slot = slots[index];
  Slot fresh;
  if (!slot.name.empty()) (void)platform::unlink_shm_object(slot.name);  // the name is reused
  if (!make_memory(options, index, fresh)) return false;
  slot.fd = std::move(fresh.fd);
  slot.mapping = std::move(fresh.mapping);
  slot.name = std::move(fresh.name);
  return true;
}

proto::Result<Pools> Pools::create(const PoolOptions& options) {
  if (auto valid = validate(options); !valid) return valid.error();
  if (auto room = check_pool_capacity(options); !room) return room.error();

  auto state = std::make_shared<SegmentLease::State>();
  state->options = options;
  const auto count = static_cast<std::uint32_t>(options.pool_size / options.segment_size);
  state->slots.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    // On failure ~State unlinks the objects created so far.
    if (auto made = SegmentLease::State::make_memory(options, i, state->slots[i]); !made)
      return made.error();
  }
  state->counters.backing = options.backing;
  state->counters.segment_size = options.segment_size;
  state->counters.segments = count;
  state->counters.bytes = std::uint64_t{count} * options.segment_size;
  return Pools(std::move(state));
}

Pools::~Pools() = default;

std::optional<SegmentLease> Pools::lease(std::uint64_t session, uid_t uid) {
  auto& s = *state_;
  const auto held_by_uid = s.per_uid.find(uid);
  if (s.sessions.contains(session) ||
      (s.options.max_segments_per_uid != 0 && held_by_uid != s.per_uid.end() &&
       held_by_uid->second >= s.options.max_segments_per_uid)) {
    ++s.counters.quota_refused;
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < s.slots.size(); ++i) {
    auto& slot = s.slots[i];
    if (slot.leased) continue;
    slot.leased = true;
    slot.session = session;
    slot.uid = uid;
    shm::write_segment_header(slot.mapping.data(), i + 1, slot.generation, s.options.segment_size);
    s.sessions.insert(session);
    ++s.per_uid[uid];
    ++s.counters.segments_in_use;
    s.counters.bytes_in_use += s.options.segment_size;
    ++s.counters.leases;
    return SegmentLease(state_, i, session);
  }
  ++s.counters.exhausted;
  return std::nullopt;
}

PoolStats Pools::stats() const {
  return state_->counters;
}

void Pools::write_status(proto::Packer& p) const {
  const PoolStats s = stats();
  const auto put = [&](std::string_view key, std::uint64_t value) {
    proto::pack_str(p, key);
    p.pack_uint64(value);
  };
  p.pack_array(1);
  p.pack_map(11);
  proto::pack_str(p, "backing");
  proto::pack_str(p, pool_backing_name(s.backing));
  put("segment_size", s.segment_size);
  put("segments", s.segments);
  put("segments_in_use", s.segments_in_use);
  put("segments_free", s.segments - s.segments_in_use);
  put("bytes", s.bytes);
  put("bytes_in_use", s.bytes_in_use);
  put("leases", s.leases);
  put("reclaims", s.reclaims);
  put("exhausted", s.exhausted);
  put("quota_refused", s.quota_refused);
}

}  // namespace fastmd::daemon
