// fastmd/shm/segment_reader.hpp — a peer's segment, mapped from the memfd that came with
// `ipc.introduce`: checks every handle the peer sends (PROTOCOL.md §4, in that order, with
// its error codes), views the block in place, and releases it by one atomic store in its
// header. Stateless apart from the mapping, so any thread may use it.
//
//     auto reader = fastmd::shm::SegmentReader::open(std::move(fd), intro.segment).value();
//     auto block = reader.acquire(*message.shm);     // all checks; SHM_* errors
//     if (!block) return block.error();
//     use(block->bytes());                           // released when `block` goes away
#pragma once

#include <memory>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/message.hpp"
#include "fastmd/proto/result.hpp"

namespace fastmd::shm {

/// A block viewed in place that is released (handed back to its owner) when this object is
/// destroyed. It keeps the peer's mapping alive, so it stays valid after the SegmentReader
/// is dropped (e.g. on `ipc.peer_gone`). Move-only.
class ReadBlock {
 public:
  ReadBlock() = default;
  ReadBlock(ReadBlock&& other) noexcept;
  ReadBlock& operator=(ReadBlock&& other) noexcept;
  ReadBlock(const ReadBlock&) = delete;
  ReadBlock& operator=(const ReadBlock&) = delete;
  ~ReadBlock() { release(); }

  proto::ByteView bytes() const { return bytes_; }
  const proto::ShmHandle& handle() const { return handle_; }
  bool valid() const { return mapping_ != nullptr; }
  /// False once the owner truncated the segment and a read of it faulted: the bytes read
  /// since are zeros, not the payload (SHM_BAD_FD). Ask after using bytes(), before trusting
  /// what was made of them.
  bool intact() const;

  /// Releases the block now (idempotent).
  void release();

 private:
  friend class SegmentReader;
  ReadBlock(std::shared_ptr<const platform::Mapping> mapping, const proto::SegmentInfo& info,
            proto::ShmHandle handle, proto::ByteView bytes)
      : mapping_(std::move(mapping)), info_(info), handle_(handle), bytes_(bytes) {}

  std::shared_ptr<const platform::Mapping> mapping_;
  proto::SegmentInfo info_;
  proto::ShmHandle handle_;
  proto::ByteView bytes_;
};

class SegmentReader {
 public:
  /// Checks `fd` (a tmpfs memory file of at least info.size bytes, sealed against shrink and
  /// grow when it is a memfd; SHM_BAD_FD otherwise) and maps it. The mapping is writable
  /// only because releasing a block is a store into its header.
  static proto::Result<SegmentReader> open(platform::UniqueFd fd, const proto::SegmentInfo& info);

  /// Checks `handle` and returns the payload it names, in place. Errors, in this order:
  /// SHM_UNKNOWN_SEGMENT, SHM_STALE_GENERATION, SHM_OUT_OF_BOUNDS, SHM_BAD_BLOCK, and
  /// SHM_BAD_FD once the owner truncated the segment under this mapping (where nothing seals
  /// it). The view is valid while this reader lives and until release(handle).
  proto::Result<proto::ByteView> read(const proto::ShmHandle& handle) const;

  /// read(), wrapped in a ReadBlock that releases the block when destroyed.
  proto::Result<ReadBlock> acquire(const proto::ShmHandle& handle) const;

  /// Hands the block back to its owner (sealed -> released, one compare-and-swap). A handle
  /// that fails the checks, or a block already released, is ignored.
  void release(const proto::ShmHandle& handle) const;

  const proto::SegmentInfo& info() const { return info_; }

 private:
  SegmentReader(std::shared_ptr<const platform::Mapping> mapping, const proto::SegmentInfo& info)
      : mapping_(std::move(mapping)), info_(info) {}

  std::shared_ptr<const platform::Mapping> mapping_;
  proto::SegmentInfo info_;
};

}  // namespace fastmd::shm
