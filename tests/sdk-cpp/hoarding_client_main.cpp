// fastmd-test-hoarding-client — a client that takes a worker's shared-memory results and
// never releases them (hoarder.hpp), for the test that a worker takes back the blocks of a
// client whose process is gone. Once the worker's segment is full it writes the number of
// blocks it holds to --ready-file, then either waits to be killed (--then wait) or, on SIGTERM,
// exits without releasing anything (--then exit).
//
//   fastmd-test-hoarding-client --socket PATH --method NAME --ready-file PATH --then wait|exit
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "hoarder.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  std::string socket, method, ready_file, then;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--socket")
      socket = argv[i + 1];
    else if (flag == "--method")
      method = argv[i + 1];
    else if (flag == "--ready-file")
      ready_file = argv[i + 1];
    else if (flag == "--then")
      then = argv[i + 1];
  }
  if (socket.empty() || method.empty() || ready_file.empty() ||
      (then != "wait" && then != "exit")) {
    std::cerr << "usage: fastmd-test-hoarding-client --socket PATH --method NAME --ready-file PATH "
                 "--then wait|exit\n";
    return 2;
  }
  // SIGTERM is taken with sigwait (--then exit), never by a handler.
  sigset_t terminate;
  sigemptyset(&terminate);
  sigaddset(&terminate, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &terminate, nullptr);
  try {
    auto control = fastmd::test::RawPeer::connect(socket);
    auto reply = control.hello(fastmd::test::client_hello({method}, "hoarder"));
    if (reply.message.error)
      throw std::runtime_error("hello refused: " + std::string(reply.message.error->message));
    auto intro = control.receive_notification(fastmd::proto::kIntroduce, 10s);
    if (!intro || intro->fds.empty()) throw std::runtime_error("no worker was introduced");
    fastmd::test::RawPeer channel(std::move(intro->fds.front()),
                                  fastmd::proto::kDefaultMaxDataFrame);
    const fastmd::testing::Hoard hoard = fastmd::testing::hoard_results(channel, *intro, method);
    std::ofstream(ready_file) << hoard.blocks.size() << "\n";
    if (then == "wait") {
      for (;;) ::pause();
    }
    int signal = 0;
    sigwait(&terminate, &signal);
    // Exits holding every block: nothing is released, the channel ends with the process.
    std::_Exit(0);
  } catch (const std::exception& e) {
    std::cerr << "fastmd-test-hoarding-client: " << e.what() << "\n";
    return 1;
  }
}
