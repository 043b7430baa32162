// The hoarding client (see hoarder.hpp).
#include "hoarder.hpp"

#include <stdexcept>

using namespace std::chrono_literals;

namespace fastmd::testing {

Hoard hoard_results(test::RawPeer& channel, test::Received& introduction, const std::string& method,
                    int max_calls) {
  const auto peer = introduction.body_as<proto::Introduce>();
  if (!peer.segment || introduction.fds.size() < 2) {
    throw std::runtime_error("the worker was introduced without a segment");
  }
  auto reader = shm::SegmentReader::open(std::move(introduction.fds[1]), *peer.segment);
  if (!reader)
    throw std::runtime_error("cannot map the worker's segment: " + reader.error().to_string());
  Hoard hoard{std::make_unique<shm::SegmentReader>(std::move(*reader)), {}};
  for (int id = 1; id <= max_calls; ++id) {
    channel.send(proto::Message::request(static_cast<std::uint64_t>(id), method));
    auto answer = channel.receive(10s);
    if (!answer || answer->message.error || !answer->message.shm) {
      throw std::runtime_error("call " + std::to_string(id) + " of '" + method +
                               "' was not answered with a payload in shared memory");
    }
    if (answer->message.shm->attached_memfd()) return hoard;  // the segment is full
    auto block = hoard.segment->acquire(*answer->message.shm);
    if (!block) throw std::runtime_error("a bad result handle: " + block.error().to_string());
    hoard.blocks.push_back(std::move(*block));
  }
  throw std::runtime_error("the worker's segment never filled up");
}

}  // namespace fastmd::testing
