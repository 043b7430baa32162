// A peer's segment: handle checks, in-place views, release (see fastmd/shm/segment_reader.hpp).
#include "fastmd/shm/segment_reader.hpp"

#include <atomic>
#include <cstddef>
#include <string>

#include "fastmd/shm/segment.hpp"

namespace fastmd::shm {

namespace {

std::string describe(const proto::ShmHandle& h) {
  return "{segment " + std::to_string(h.segment) + ", offset " + std::to_string(h.offset) +
         ", length " + std::to_string(h.length) + ", generation " + std::to_string(h.generation) +
         "}";
}

// The four checks of PROTOCOL.md §4, in its order.
proto::Result<proto::ByteView> check_handle(const std::byte* base, const proto::SegmentInfo& info,
                                            const proto::ShmHandle& h) {
  if (h.segment != info.segment) {
    return proto::Error{proto::Errc::shm_unknown_segment,
                        "handle " + describe(h) + " names a segment other than the peer's (" +
                            std::to_string(info.segment) + ")"};
  }
  if (h.generation != info.generation) {
    return proto::Error{proto::Errc::shm_stale_generation,
                        "handle " + describe(h) + " is for generation " +
                            std::to_string(h.generation) + " but the segment is at generation " +
                            std::to_string(info.generation)};
  }
  // offset + length <= size, written so that nothing can overflow.
  if (h.offset > info.size || h.length > info.size - h.offset) {
    return proto::Error{proto::Errc::shm_out_of_bounds, "handle " + describe(h) +
                                                            " lies outside the segment of " +
                                                            std::to_string(info.size) + " bytes"};
  }
  if (h.offset < kFirstBlockOffset + sizeof(BlockHeader) || h.offset % kCacheLine != 0) {
    return proto::Error{proto::Errc::shm_bad_block,
                        "handle " + describe(h) + " does not point at a block's payload"};
  }
  const BlockHeaderCopy header = copy_block_header(base + h.offset - sizeof(BlockHeader));
  if (header.magic != kBlockMagic || header.offset != h.offset || header.length != h.length ||
      header.state != pack_state(h.generation, BlockState::sealed)) {
    return proto::Error{proto::Errc::shm_bad_block,
                        "the block header at handle " + describe(h) +
                            " does not match it (or the block is not sealed)"};
  }
  return proto::ByteView{base + h.offset, static_cast<std::size_t>(h.length)};
}

// The peer shrank its segment under this mapping and a read faulted: what was read is zeros
// from the SIGBUS guard (fastmd/platform/mapping.hpp), not the peer's bytes.
proto::Error truncated(const proto::SegmentInfo& info) {
  return proto::Error{proto::Errc::shm_bad_fd,
                      "segment " + std::to_string(info.segment) + " was truncated by its owner " +
                          "below its " + std::to_string(info.size) + " bytes while mapped here"};
}

void release_block(std::byte* base, const proto::SegmentInfo& info, const proto::ShmHandle& h) {
  if (!check_handle(base, info, h)) return;
  std::uint64_t expected = pack_state(h.generation, BlockState::sealed);
  header_word(base + h.offset - sizeof(BlockHeader), offsetof(BlockHeader, state))
      .compare_exchange_strong(expected, pack_state(h.generation, BlockState::released),
                               std::memory_order_acq_rel, std::memory_order_relaxed);
}

}  // namespace

// ---- ReadBlock ----

ReadBlock::ReadBlock(ReadBlock&& other) noexcept
    : mapping_(std::move(other.mapping_)),
      info_(other.info_),
      handle_(other.handle_),
      bytes_(other.bytes_) {}

ReadBlock& ReadBlock::operator=(ReadBlock&& other) noexcept {
  if (this != &other) {
    release();
    mapping_ = std::move(other.mapping_);
    info_ = other.info_;
    handle_ = other.handle_;
    bytes_ = other.bytes_;
  }
  return *this;
}

bool ReadBlock::intact() const {
  return mapping_ != nullptr && !mapping_->broken();
}

void ReadBlock::release() {
  if (mapping_ == nullptr) return;
  release_block(mapping_->data(), info_, handle_);
  mapping_.reset();
  bytes_ = {};
}

// ---- SegmentReader ----

proto::Result<SegmentReader> SegmentReader::open(platform::UniqueFd fd,
                                                 const proto::SegmentInfo& info) {
  auto mapping = map_segment(fd.get(), info);
  if (!mapping) return mapping.error();
  return SegmentReader(std::make_shared<const platform::Mapping>(std::move(*mapping)), info);
}

proto::Result<proto::ByteView> SegmentReader::read(const proto::ShmHandle& handle) const {
  auto checked = check_handle(mapping_->data(), info_, handle);
  // Asked after the header was read: a fault while reading it leaves the mapping broken.
  if (mapping_->broken()) return truncated(info_);
  return checked;
}

proto::Result<ReadBlock> SegmentReader::acquire(const proto::ShmHandle& handle) const {
  auto bytes = read(handle);
  if (!bytes) return bytes.error();
  return ReadBlock(mapping_, info_, handle, *bytes);
}

void SegmentReader::release(const proto::ShmHandle& handle) const {
  release_block(mapping_->data(), info_, handle);
}

}  // namespace fastmd::shm
