// libFuzzer target for the direct channel's receiving side: arbitrary bytes, with fds attached
// at input-chosen points, go through a real FramedSocket over a socketpair (framing, per-frame
// fd accounting, the message decoder), and every decoded payload through take_payload against
// a real peer segment holding a few valid blocks (inline bytes, one-off memfds and forged or
// honest shared-memory handles). Any crash, leak, UB, fd left open or oversized allocation is
// a bug. Run by scripts/fuzz beside the frame-decoder target, on sdk-cpp/fuzz/corpus.
//
// Input: byte 0 = how many fd attachment points follow (at most 8), each 2 bytes (offset into
// the stream, little endian); the rest is the byte stream one peer writes.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/shm/segment_writer.hpp"
#include "framed_socket.hpp"
#include "payload.hpp"

using namespace fastmd;

namespace {

constexpr std::uint64_t kSegmentSize = 1 << 20;

// The peer's segment, made once: a sealed memfd as the daemon makes it, with valid blocks.
struct PeerFixture {
  PeerFixture() {
    const proto::SegmentInfo info{3, kSegmentSize, 7};
    auto memfd = platform::create_memfd("fuzz-segment", kSegmentSize);
    if (!memfd || !platform::seal_where_supported(memfd->get(), platform::kSegmentSeals))
      std::abort();
    auto writer_fd = platform::UniqueFd(::fcntl(memfd->get(), F_DUPFD_CLOEXEC, 0));
    auto owned = shm::SegmentWriter::open(std::move(writer_fd), info);
    if (!owned) std::abort();
    writer = std::move(*owned);
    for (std::size_t length : {1, 100, 5000}) {
      auto block = writer->allocate(length, std::chrono::milliseconds(0));
      if (!block) std::abort();
      std::memset(block->data().data(), 'a', length);
      (void)block->seal(length);  // stays lent: the fuzzer's handles may name it
    }
    auto peer = ipc::detail::open_peer_segment(std::move(*memfd), info);
    if (!peer || !*peer) std::abort();
    segment = std::move(*peer);
  }
  std::unique_ptr<shm::SegmentWriter> writer;
  std::shared_ptr<ipc::detail::PeerSegment> segment;
};

void drain(ipc::detail::FramedSocket& socket, ipc::detail::PeerSegment* peer, bool& dead) {
  if (dead) return;
  auto open = socket.receive();
  if (!open) {
    dead = true;
    return;
  }
  for (;;) {
    auto inbound = socket.next();
    if (!inbound) {
      dead = true;
      return;
    }
    if (!*inbound) break;
    auto payload = ipc::detail::take_payload((*inbound)->message, (*inbound)->fds, peer);
    if (payload && !payload->bytes.empty()) {
      volatile std::byte sink = payload->bytes.back();  // the bytes are readable
      (void)sink;
    }
  }
  if (!*open) dead = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static PeerFixture fixture;
  if (size < 1) return 0;
  std::size_t points = std::min<std::size_t>(data[0], 8);
  if (size < 1 + 2 * points) return 0;
  std::vector<std::size_t> attach_at;
  for (std::size_t i = 0; i < points; ++i) {
    attach_at.push_back(data[1 + 2 * i] | (std::size_t{data[2 + 2 * i]} << 8));
  }
  const std::byte* stream = reinterpret_cast<const std::byte*>(data) + 1 + 2 * points;
  const std::size_t length = size - 1 - 2 * points;

  auto pair = platform::make_socketpair();
  if (!pair) return 0;
  platform::UniqueFd writer_end = std::move(pair->first);
  ipc::detail::FramedSocket socket(std::move(pair->second), proto::DecodeLimits::data());
  const platform::UniqueFd attached(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int fd = attached.get();

  // Pieces end at each attachment point; the piece starting there carries one fd.
  std::vector<std::size_t> cuts{0};
  for (std::size_t at : attach_at) {
    if (at < length) cuts.push_back(at);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.push_back(length);
  bool dead = false;
  for (std::size_t i = 0; i + 1 < cuts.size() && !dead; ++i) {
    if (cuts[i] == cuts[i + 1]) continue;
    iovec part{const_cast<std::byte*>(stream) + cuts[i], cuts[i + 1] - cuts[i]};
    const bool with_fd = i > 0 || (!attach_at.empty() && attach_at.front() == 0);
    std::size_t written = 0;
    while (written < part.iov_len && !dead) {
      iovec rest{static_cast<std::byte*>(part.iov_base) + written, part.iov_len - written};
      auto sent = platform::send_with_fds(
          writer_end.get(), {&rest, 1},
          with_fd && written == 0 ? std::span<const int>(&fd, 1) : std::span<const int>{});
      if (!sent) return 0;
      written += sent->bytes;
      drain(socket, fixture.segment.get(), dead);  // the socket buffer empties as it is read
    }
  }
  writer_end.reset();
  drain(socket, fixture.segment.get(), dead);
  return 0;
}
