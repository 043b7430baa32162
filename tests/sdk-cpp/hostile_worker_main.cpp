// fastmd-test-hostile-worker — a malicious worker for the hostile-peer tests of the C++ and
// Node clients: it registers `echo` with the real daemon like any worker, then answers every
// request on its direct channels in one broken way, chosen by --answer:
//   code-0        an error response whose code is 0 (OK) and whose text looks like a result
//   unknown-code  an error response with code 999
//   forged-handle a result "in shared memory" at an offset far outside its segment
//   stray-fds     a correct result whose frame says fds: 0 but carries three fds
//   duplicate     the correct result, twice
//   silent        nothing: it never answers, and never releases a request's block
// It runs until killed. Its hello has no `reports_load` and it sends no ipc.load: as a pool
// worker (no --socket, its control connection inherited as FASTMD_IPC_CONTROL_FD) it stands
// for a worker whose load the daemon does not know.
//
//   fastmd-test-hostile-worker --socket PATH --answer MODE [--name NAME]
#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "raw_peer.hpp"

namespace {

using fastmd::platform::UniqueFd;
using fastmd::proto::Errc;
using fastmd::proto::Message;
using fastmd::test::RawPeer;

void answer(RawPeer& channel, const std::string& mode, const Message& request,
            std::uint32_t segment) {
  const auto id = request.id;
  if (mode == "silent") return;
  if (mode == "code-0") {
    channel.send(Message::failure(id, Errc::ok, "<p>forged result</p>"));
  } else if (mode == "unknown-code") {
    channel.send(Message::failure(id, static_cast<Errc>(999), "a code from nowhere"));
  } else if (mode == "forged-handle") {
    Message forged = Message::response(id);
    forged.shm = fastmd::proto::ShmHandle{segment, std::uint64_t{1} << 40, 64, 1};
    channel.send(forged);
  } else if (mode == "stray-fds") {
    UniqueFd stray[3] = {UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
                         UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
                         UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC))};
    const int fds[3] = {stray[0].get(), stray[1].get(), stray[2].get()};
    channel.send(Message::response(id, request.payload), fds);
  } else {  // duplicate
    channel.send(Message::response(id, request.payload));
    channel.send(Message::response(id, request.payload));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path, mode, name = "hostile-worker";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--socket") {
      socket_path = argv[i + 1];
    } else if (flag == "--answer") {
      mode = argv[i + 1];
    } else if (flag == "--name") {
      name = argv[i + 1];
    } else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  const std::vector<std::string> modes = {"code-0",    "unknown-code", "forged-handle",
                                          "stray-fds", "duplicate",    "silent"};
  const char* inherited = std::getenv("FASTMD_IPC_CONTROL_FD");
  if ((socket_path.empty() && inherited == nullptr) ||
      std::find(modes.begin(), modes.end(), mode) == modes.end()) {
    std::cerr << "usage: fastmd-test-hostile-worker --socket PATH --answer "
                 "code-0|unknown-code|forged-handle|stray-fds|duplicate|silent [--name NAME]\n";
    return 2;
  }
  RawPeer control =
      socket_path.empty() ? RawPeer(UniqueFd(std::atoi(inherited))) : RawPeer::connect(socket_path);
  auto hello_params = fastmd::test::worker_hello({"echo"}, name);
  hello_params.shm = true;  // a segment of its own, so forged handles name a real segment
  const auto reply = control.hello(hello_params);
  if (reply.message.error) {
    std::cerr << "the daemon refused: " << reply.message.error->message << "\n";
    return 1;
  }
  const auto hello = reply.body_as<fastmd::proto::HelloReply>();
  const std::uint32_t segment = hello.segment ? hello.segment->segment : 1;
  std::vector<std::unique_ptr<RawPeer>> channels;
  // Frames that came in one read wait in a RawPeer's buffer: each wake-up reads once, then
  // takes every frame buffered.
  const auto frames_of = [](RawPeer& peer, const auto& handle) {
    for (auto frame = peer.receive(std::chrono::milliseconds(100)); frame;
         frame = peer.receive(std::chrono::milliseconds(0))) {
      handle(*frame);
    }
  };
  const auto take_introductions = [&] {
    frames_of(control, [&](fastmd::test::Received& intro) {
      if (intro.message.method == fastmd::proto::kIntroduce && !intro.fds.empty()) {
        channels.push_back(std::make_unique<RawPeer>(std::move(intro.fds.front()),
                                                     fastmd::proto::kDefaultMaxDataFrame));
      }
    });
  };
  take_introductions();  // any that came in the read with the hello reply
  for (;;) {
    std::vector<pollfd> watched{{control.fd(), POLLIN, 0}};
    for (const auto& channel : channels) watched.push_back({channel->fd(), POLLIN, 0});
    if (::poll(watched.data(), watched.size(), -1) < 0) continue;
    for (std::size_t i = 1; i < watched.size(); ++i) {
      if (watched[i].revents == 0) continue;
      RawPeer& channel = *channels[i - 1];
      frames_of(channel, [&](fastmd::test::Received& request) {
        if (!request.message.is_request()) return;
        try {
          answer(channel, mode, request.message, segment);
        } catch (const std::runtime_error&) {
          // The client closed the channel (as it should, for some of these answers).
        }
      });
    }
    if (watched[0].revents != 0) {
      take_introductions();
      if (control.closed()) return 0;
    }
    std::erase_if(channels, [](const auto& channel) { return channel->closed(); });
  }
}
