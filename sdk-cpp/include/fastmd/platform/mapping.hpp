// fastmd/platform/mapping.hpp — Mapping, the one owner of an mmap'ed range. Every shared
// mapping in fastmd-ipc (pool segments, a peer's segment, one-off memfds) lives in one;
// nothing else calls munmap(). Every one is SIGBUS-guarded: if a peer truncates an unsealed
// object under it, touching the lost pages reads zeros and broken() turns true, instead of
// the process dying of SIGBUS (docs/platforms.md, "A peer that truncates shared memory").
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <utility>

#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

namespace sigbus_guard {
struct Range;
}

class Mapping {
 public:
  /// How the pages are brought in when the range is mapped.
  enum class Populate : bool {
    lazy,     // first touch faults each page in (one-off payloads read once)
    prefault  // MAP_POPULATE (Linux; lazy elsewhere): pay every fault now, not on the hot path
  };

  Mapping() = default;
  Mapping(Mapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        guard_(std::exchange(other.guard_, nullptr)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      reset();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      guard_ = std::exchange(other.guard_, nullptr);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  /// Maps `size` bytes of `fd` at `offset`, MAP_SHARED, read-only or read-write. `size` must
  /// be > 0 (IO_ERROR otherwise, as mmap would say). The fd may be closed afterwards.
  static proto::Result<Mapping> map(int fd, std::size_t size, bool writable, off_t offset = 0,
                                    Populate populate = Populate::lazy);

  /// Maps `size` bytes of `fd` MAP_PRIVATE, readable and writable: a copy-on-write view.
  /// Writes through it stay in this process (a page is copied when first written), so it can
  /// be handed to code that may write (a Node Buffer) over a file sealed kSealWrite.
  /// Pages are brought in lazily; see map() for `size`.
  static proto::Result<Mapping> map_private(int fd, std::size_t size);

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool valid() const { return data_ != nullptr; }
  explicit operator bool() const { return valid(); }
  std::span<std::byte> bytes() const { return {data_, size_}; }

  /// True once an access faulted because a peer shrank the object below this range: the
  /// range then holds private zero pages, and whatever was read from it since the last check
  /// must be discarded (callers report SHM_BAD_FD). Never true over a sealed memfd.
  ///
  ///     auto copy = parse(mapping.bytes());
  ///     if (mapping.broken()) return Error{Errc::shm_bad_fd, "segment truncated by a peer"};
  bool broken() const;

  /// Unmaps (if mapped). munmap errors are ignored: the range is gone or was never ours.
  void reset();

 private:
  Mapping(std::byte* data, std::size_t size);

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  sigbus_guard::Range* guard_ = nullptr;  // this range's entry in the SIGBUS guard
};

}  // namespace fastmd::platform
