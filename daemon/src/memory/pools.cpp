// The daemon's pool of segments (see memory/pools.hpp).
#include "memory/pools.hpp"

#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/platform/prefault.hpp"
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

namespace {

proto::Result<platform::UniqueFd> create_backing(const PoolOptions& o, std::uint64_t object,
                                                 std::string& name) {
  if (o.backing == PoolBacking::memfd) {
    const std::string label = "fastmd-segment-" + std::to_string(object);
    auto fd = platform::create_memfd(label.c_str(), o.segment_size);
    if (!fd) return fd.error();
    // Unsealed where the platform cannot seal: receivers check the size and bound their
    // reads (docs/platforms.md), and a segment is never re-leased, so a shrunk one harms
    // only whoever shrank it.
    if (auto sealed = platform::seal_where_supported(fd->get(), platform::kSegmentSeals); !sealed) {
      return sealed.error();
    }
    return fd;
  }
  name = "/fastmd-" + std::to_string(::geteuid()) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(object);
  return platform::create_shm_object(name, o.segment_size);
}

// Allocates every page now, so no session pays for it later, without the daemon touching the
// memory through a mapping: fallocate() (POSIX: a pwrite per page; macOS: a mapping of the
// fresh object, platform/macos/prefault.cpp) cannot SIGBUS. With huge
// pages the allocation has to happen through a MADV_HUGEPAGE mapping; the object is fresh
// then and no peer holds it yet.
proto::Status prefault(int fd, std::uint64_t size, bool huge_pages) {
  if (huge_pages) {
    auto mapping = platform::Mapping::map(fd, static_cast<std::size_t>(size), true);
    if (!mapping) return mapping.error();
    if (auto advised = platform::advise_huge_pages(mapping->bytes()); !advised) return advised;
    if (platform::populate(mapping->bytes(), platform::PopulateFor::write)) return {};
  }
  return platform::allocate_pages(fd, size);
}

}  // namespace

struct SegmentLease::State {
  // A slot is a position in the pool (its segment id) holding one backing object at a time.
  // The object is never leased twice: when it comes back it is emptied and dropped, and a
  // fresh one takes its place (docs/shm.md, "A segment is never re-leased").
  struct Slot {
    platform::UniqueFd fd;  // empty when its replacement could not be created yet
    std::string name;       // shm backing: the object's name, unlinked when it is dropped
    std::uint32_t generation = 1;
    bool leased = false;
    std::uint64_t session = 0;
    uid_t uid = 0;
  };

  PoolOptions options;
  std::vector<Slot> slots;
  std::set<std::uint64_t> sessions;        // sessions holding a lease
  std::map<uid_t, std::uint32_t> per_uid;  // leases per uid
  std::uint64_t objects_created = 0;       // names the shm backing's objects uniquely
  PoolStats counters;

  ~State() {
    for (auto& slot : slots) drop_object(slot);
  }

  proto::SegmentInfo info(std::uint32_t slot) const {
    return {slot + 1, options.segment_size, slots[slot].generation};
  }

  // A fresh, pre-faulted backing object for `slot`.
  proto::Status fill(Slot& slot) {
    std::string name;
    auto fd = create_backing(options, ++objects_created, name);
    if (!fd) return fd.error();
    slot.fd = std::move(*fd);
    slot.name = std::move(name);
    if (auto faulted = prefault(slot.fd.get(), options.segment_size, options.huge_pages);
        !faulted) {
      drop_object(slot);
      return faulted.error();
    }
    return {};
  }

  // Lets go of the object without touching its memory (no mapping, so a peer that truncated a
  // named object cannot SIGBUS the daemon). Its pages stay, unchanged, with whoever still maps
  // it, and are freed when the last of them lets go: a Node client keeps result Buffers over a
  // dead worker's blocks (docs/sdk-node.md), so the bytes under them must not change. What a
  // former holder writes there lands in an object nobody else will ever get.
  void drop_object(Slot& slot) const {
    slot.fd.reset();
    if (!slot.name.empty()) (void)platform::unlink_shm_object(slot.name);
    slot.name.clear();
  }

  // Writes the segment header through a short-lived mapping, before any peer holds the
  // object. Every Mapping is SIGBUS-guarded, so a named object (shm backing) that someone who
  // guessed its name truncated costs this slot its object, not the daemon its life. Not
  // pwrite(): macOS shm objects take none (docs/platforms.md).
  proto::Status write_header(std::uint32_t index) {
    Slot& slot = slots[index];
    auto mapping = platform::Mapping::map(slot.fd.get(), sizeof(shm::SegmentHeader), true);
    if (!mapping) return mapping.error();
    shm::write_segment_header(mapping->data(), index + 1, slot.generation, options.segment_size);
    if (mapping->broken()) {
      drop_object(slot);
      return proto::Error{proto::Errc::io_error, "segment " + std::to_string(index + 1) +
                                                     "'s backing object was truncated before "
                                                     "its lease"};
    }
    return {};
  }

  void give_back(std::uint32_t index) {
    Slot& slot = slots[index];
    // Former holders may keep their mapping, change its seals or truncate it: the next owner
    // gets another object, so none of that reaches it. A failed replacement leaves the slot
    // empty; lease() tries again.
    drop_object(slot);
    (void)fill(slot);
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

}  // namespace

proto::Result<Pools> Pools::create(const PoolOptions& options) {
  if (auto valid = validate(options); !valid) return valid.error();
  if (auto room = check_pool_capacity(options); !room) return room.error();

  auto state = std::make_shared<SegmentLease::State>();
  state->options = options;
  const auto count = static_cast<std::uint32_t>(options.pool_size / options.segment_size);
  state->slots.resize(count);
  for (auto& slot : state->slots) {
    if (auto filled = state->fill(slot); !filled) return filled.error();  // ~State cleans up
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
    if (!slot.fd && !s.fill(slot)) continue;  // its replacement failed before; try again
    if (!s.write_header(i)) continue;
    slot.leased = true;
    slot.session = session;
    slot.uid = uid;
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
