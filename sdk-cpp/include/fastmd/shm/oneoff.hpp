// fastmd/shm/oneoff.hpp — payloads larger than any segment: written once into a fresh memfd,
// sealed immutable (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE), attached to the frame that
// carries the handle {segment: 0, offset: 0, length: N, generation: 0} (PROTOCOL.md §4),
// and mapped read-only by the receiver after checking the fd. Any size the memory allows.
//
//     auto payload = fastmd::shm::make_oneoff(bytes).value();    // sender
//     send(frame_with(payload.handle), payload.fd.get());
//
//     auto view = fastmd::shm::map_attached(std::move(fd), handle.length).value();  // receiver
//     use(view.bytes());
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::shm {

/// A sealed one-off payload, ready to attach to a frame (the fd) that carries `handle`.
struct OneOff {
  platform::UniqueFd fd;
  proto::ShmHandle handle;  // {0, 0, length, 0}
};

/// Copies `bytes` into a new sealed memfd.
proto::Result<OneOff> make_oneoff(proto::ByteView bytes);

/// Fills a new memfd of up to `capacity` bytes in place: `fill` gets the writable memory and
/// returns how many bytes it used (<= capacity); the file is cut to that size (where the
/// platform can resize objects, capabilities().resizable_objects) and sealed.
proto::Result<OneOff> make_oneoff(std::size_t capacity,
                                  const std::function<std::size_t(std::span<std::byte>)>& fill);

/// Builds a one-off payload of unknown final size by appending (a handler's output that
/// outgrew the segment): the memfd grows by doubling, then finish() seals it.
class OneOffBuilder {
 public:
  /// How the builder's memory object grows, and whether it is cut to its final size.
  enum class Sizing : bool {
    in_place,  // ftruncate: the object grows, and is cut to size() at finish()
    by_copy,   // objects are sized once (macOS shm): a larger one takes the bytes when it
               // grows, and none is cut (the handle's length bounds the payload)
  };
  /// The platform's way: in_place where capabilities().resizable_objects, else by_copy.
  static Sizing platform_sizing();

  /// Starts with room for `initial_capacity` bytes (at least one page is reserved). `sizing`
  /// is the platform's unless a test asks for the other.
  ///
  ///     auto builder = fastmd::shm::OneOffBuilder::create(64 << 10).value();
  ///     builder.append(part).value();   // as often as needed
  ///     fastmd::shm::OneOff payload = builder.finish().value();
  static proto::Result<OneOffBuilder> create(std::size_t initial_capacity,
                                             Sizing sizing = platform_sizing());

  /// Appends bytes, growing the file when needed (IO_ERROR when memory runs out).
  proto::Status append(proto::ByteView bytes);
  std::size_t size() const { return size_; }

  /// Cuts the file to size() (Sizing::in_place), unmaps it, seals it and returns it. The
  /// builder is then empty.
  proto::Result<OneOff> finish();

 private:
  OneOffBuilder(platform::UniqueFd fd, platform::Mapping mapping, Sizing sizing)
      : fd_(std::move(fd)), mapping_(std::move(mapping)), sizing_(sizing) {}
  proto::Status reserve(std::size_t total);

  platform::UniqueFd fd_;
  platform::Mapping mapping_;
  Sizing sizing_;
  std::size_t size_ = 0;
};

/// A received one-off payload mapped read-only. Move-only; the bytes stay valid while it lives.
/// How a received one-off payload is mapped.
enum class AttachedView : bool {
  read_only,     // shared and read-only, pages populated at once
  private_copy,  // MAP_PRIVATE and writable, populated without copying: writes stay local
};

class AttachedPayload {
 public:
  AttachedPayload() = default;
  proto::ByteView bytes() const { return {mapping_.data(), length_}; }
  /// The payload's memory: read-only, or a private copy-on-write view (AttachedView).
  std::byte* data() const { return mapping_.data(); }
  std::size_t size() const { return length_; }
  /// False once the sender truncated the memory object (where nothing seals it) and a read
  /// of it faulted: what was read since is zeros, not the payload (SHM_BAD_FD).
  bool intact() const { return !mapping_.broken(); }

 private:
  friend proto::Result<AttachedPayload> map_attached(platform::UniqueFd fd, std::uint64_t length,
                                                     AttachedView view);
  AttachedPayload(platform::Mapping mapping, std::size_t length)
      : mapping_(std::move(mapping)), length_(length) {}

  platform::Mapping mapping_;
  std::size_t length_ = 0;
};

/// Checks a memfd attached to a frame (a memfd sealed F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE
/// of at least `length` bytes, else SHM_BAD_FD) and maps its first `length` bytes read-only
/// (or as a private copy-on-write view, for memory handed to code that may write to it).
/// The fd is closed once mapped. `length` 0 gives an empty payload.
proto::Result<AttachedPayload> map_attached(platform::UniqueFd fd, std::uint64_t length,
                                            AttachedView view = AttachedView::read_only);

}  // namespace fastmd::shm
