// libFuzzer target for the frame decoder: arbitrary bytes go through FrameReader, the
// message decoder and every control-body decoder. Any crash, leak, UB or oversized
// allocation is a bug. Run by scripts/fuzz (CI: 60 s) on a copy of proto/fuzz/corpus.
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
