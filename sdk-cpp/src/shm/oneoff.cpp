// One-off sealed memfds for payloads larger than any segment (see fastmd/shm/oneoff.hpp).
#include "fastmd/shm/oneoff.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/platform/prefault.hpp"
#include "fastmd/platform/unix_socket.hpp"

namespace fastmd::shm {

namespace {

constexpr const char* kOneOffName = "fastmd-oneoff";
constexpr std::size_t kPage = 4096;

proto::Status truncate_to(int fd, std::size_t size) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return platform::system_error("ftruncate", errno);
  }
  return {};
}

// The last step of every one-off: no writable mapping may remain (F_SEAL_WRITE would fail
// with EBUSY), then seal, and seal the seals. Where the platform cannot seal, the receiver's
// size check and bounded reads are all there is (docs/platforms.md).
proto::Result<OneOff> seal_oneoff(platform::UniqueFd fd, std::size_t length) {
  if (auto sealed =
          platform::seal_where_supported(fd.get(), platform::kOneOffSeals | platform::kSealSeal);
      !sealed) {
    return sealed.error();
  }
  return OneOff{std::move(fd), proto::ShmHandle{proto::kAttachedMemfdSegment, 0, length, 0}};
}

}  // namespace

proto::Result<OneOff> make_oneoff(std::size_t capacity,
                                  const std::function<std::size_t(std::span<std::byte>)>& fill) {
  auto fd = platform::create_memfd(kOneOffName, capacity);
  if (!fd) return fd.error();
  std::size_t used = 0;
  if (capacity > 0) {
    // Pre-faulting in the kernel is cheaper than one trap per page on first touch.
    auto mapping =
        platform::Mapping::map(fd->get(), capacity, true, 0, platform::Mapping::Populate::prefault);
    if (!mapping) return mapping.error();
    used = fill(mapping->bytes());
    if (used > capacity) {
      return proto::Error{proto::Errc::internal,
                          "a one-off fill callback reported " + std::to_string(used) +
                              " bytes for a capacity of " + std::to_string(capacity)};
    }
    // An object that cannot be cut (macOS) is seen whole by its receiver: whatever `fill`
    // left beyond `used` must not travel with it.
    if (!platform::capabilities().resizable_objects) {
      std::memset(mapping->data() + used, 0, capacity - used);
    }
  }
  if (used < capacity && platform::capabilities().resizable_objects) {
    if (auto cut = truncate_to(fd->get(), used); !cut) return cut.error();
  }
  return seal_oneoff(std::move(*fd), used);
}

proto::Result<OneOff> make_oneoff(proto::ByteView bytes) {
  return make_oneoff(bytes.size(), [&](std::span<std::byte> out) {
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return bytes.size();
  });
}

// ---- OneOffBuilder ----

OneOffBuilder::Sizing OneOffBuilder::platform_sizing() {
  return platform::capabilities().resizable_objects ? Sizing::in_place : Sizing::by_copy;
}

proto::Result<OneOffBuilder> OneOffBuilder::create(std::size_t initial_capacity, Sizing sizing) {
  const std::size_t capacity = std::max(kPage, (initial_capacity + kPage - 1) / kPage * kPage);
  auto fd = platform::create_memfd(kOneOffName, capacity);
  if (!fd) return fd.error();
  auto mapping = platform::Mapping::map(fd->get(), capacity, true);
  if (!mapping) return mapping.error();
  return OneOffBuilder(std::move(*fd), std::move(*mapping), sizing);
}

proto::Status OneOffBuilder::reserve(std::size_t total) {
  if (total <= mapping_.size()) return {};
  const std::size_t capacity = std::max(total, mapping_.size() * 2);
  if (sizing_ == Sizing::by_copy) {
    auto fd = platform::create_memfd(kOneOffName, capacity);
    if (!fd) return fd.error();
    auto mapping = platform::Mapping::map(fd->get(), capacity, true);
    if (!mapping) return mapping.error();
    std::memcpy(mapping->data(), mapping_.data(), size_);
    fd_ = std::move(*fd);
    mapping_ = std::move(*mapping);
    return {};
  }
  if (auto grown = truncate_to(fd_.get(), capacity); !grown) return grown;
  // Remapping keeps the bytes: they live in the memfd, not in the mapping.
  mapping_.reset();
  auto mapping = platform::Mapping::map(fd_.get(), capacity, true);
  if (!mapping) return mapping.error();
  mapping_ = std::move(*mapping);
  return {};
}

proto::Status OneOffBuilder::append(proto::ByteView bytes) {
  if (!fd_) return proto::Error{proto::Errc::internal, "append to a finished OneOffBuilder"};
  if (auto room = reserve(size_ + bytes.size()); !room) return room;
  std::memcpy(mapping_.data() + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
  return {};
}

proto::Result<OneOff> OneOffBuilder::finish() {
  if (!fd_) return proto::Error{proto::Errc::internal, "finish of a finished OneOffBuilder"};
  mapping_.reset();
  if (sizing_ == Sizing::in_place) {
    if (auto cut = truncate_to(fd_.get(), size_); !cut) return cut.error();
  }
  const std::size_t length = std::exchange(size_, 0);
  return seal_oneoff(std::move(fd_), length);
}

// ---- receiving ----

proto::Result<AttachedPayload> map_attached(platform::UniqueFd fd, std::uint64_t length,
                                            AttachedView view) {
  auto checked = platform::check_memory_fd(fd.get(), platform::kOneOffSeals, length);
  if (!checked) return checked.error();
  if (length > SIZE_MAX) {
    return proto::Error{proto::Errc::shm_bad_fd, "a one-off payload of " + std::to_string(length) +
                                                     " bytes cannot be mapped here"};
  }
  if (length == 0) return AttachedPayload{};
  if (view == AttachedView::private_copy) {
    auto mapping = platform::Mapping::map_private(fd.get(), static_cast<std::size_t>(length));
    if (!mapping) return mapping.error();
    // MAP_POPULATE would write-fault (copy) every page of a writable private mapping; this
    // maps the file's pages read-only instead, in one call (Linux >= 5.14; lazy elsewhere).
    (void)platform::populate(mapping->bytes(), platform::PopulateFor::read);
    return AttachedPayload(std::move(*mapping), static_cast<std::size_t>(length));
  }
  auto mapping = platform::Mapping::map(fd.get(), static_cast<std::size_t>(length), false, 0,
                                        platform::Mapping::Populate::prefault);
  if (!mapping) return mapping.error();
  return AttachedPayload(std::move(*mapping), static_cast<std::size_t>(length));
}

}  // namespace fastmd::shm
