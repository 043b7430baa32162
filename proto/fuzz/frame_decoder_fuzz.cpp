// libFuzzer target for the frame decoder: arbitrary bytes go through FrameReader, the
// message decoder and every control-body decoder. Any crash, leak, UB or oversized
// allocation is a bug, and so is a body that the decoder's fast path (plain_body.hpp) reads
// otherwise than the general path. Run by scripts/fuzz (CI: 60 s) on a copy of proto/fuzz/corpus.
#include <cstring>

#include "fastmd/proto/control.hpp"
#include "fastmd/proto/frame_reader.hpp"

using namespace fastmd::proto;

namespace {

template <class Body>
void decode_as(Decoder& decoder, ByteView bytes) {
  Result<Body> body = decode_body<Body>(decoder, bytes);
  if (!body) (void)errc_name(body.error().code);
}

// Traps unless decode() and the general path alone agree on `body` (same message or same
// error code).
void check_paths_agree(Decoder& decoder, ByteView body, const Result<Message>& decoded) {
  Result<Message> general = decoder.decode_unpacked(body);
  if (decoded.ok() != general.ok()) __builtin_trap();
  if (!decoded.ok()) {
    if (decoded.error().code != general.error().code) __builtin_trap();
    return;
  }
  const Message& a = *decoded;
  const Message& b = *general;
  const bool same_error =
      a.error.has_value() == b.error.has_value() &&
      (!a.error || (a.error->code == b.error->code && a.error->message == b.error->message));
  if (a.version != b.version || a.type != b.type || a.id != b.id || a.method != b.method ||
      a.fds != b.fds || a.shm != b.shm || a.payload.data() != b.payload.data() ||
      a.payload.size() != b.payload.size() || !same_error) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(reinterpret_cast<const std::byte*>(data), size);

  // Whole frame in memory (the vectors' form).
  Decoder decoder(DecodeLimits::control());
  Result<Message> whole = decoder.decode_frame(input);

  // The same bytes as a stream, fed in uneven pieces.
  FrameReader reader(kDefaultMaxControlFrame, 64);
  Decoder stream_decoder(DecodeLimits::control());
  std::size_t offset = 0, piece = 1;
  while (offset < size) {
    const std::size_t n = std::min(piece, size - offset);
    auto space = reader.writable(n);
    std::memcpy(space.data(), input.data() + offset, n);
    reader.commit(n);
    offset += n;
    piece = piece * 3 % 61 + 1;
    for (;;) {
      auto frame = reader.next();
      if (!frame || !frame->has_value()) break;
      Result<Message> m = stream_decoder.decode(**frame);
      check_paths_agree(stream_decoder, **frame, m);
      if (m && !m->payload.empty()) {
        // A control message's params are a nested body: decode them as every kind.
        Decoder nested;
        decode_as<Hello>(nested, m->payload);
        decode_as<HelloReply>(nested, m->payload);
        decode_as<Introduce>(nested, m->payload);
        decode_as<PeerGone>(nested, m->payload);
        decode_as<Cancel>(nested, m->payload);
        decode_as<Load>(nested, m->payload);
      }
    }
    if (!reader.next()) break;  // the stream is dead after a framing error
  }
  (void)whole;
  return 0;
}
