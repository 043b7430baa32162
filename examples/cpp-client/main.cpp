// fastmd-cpp-client — the smallest useful fastmd::ipc::Client: sends a file (or stdin) to a
// method of the workers behind fastmd-ipcd and prints the result.
//
//   fastmd-cpp-client [--socket PATH] [--method transform] [--timeout-ms N] [FILE]
//
//   $ echo '# Hello' | fastmd-cpp-client
//   <h1>Hello</h1>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "fastmd/ipc/client.hpp"

int main(int argc, char** argv) {
  fastmd::ipc::ClientOptions options;
  fastmd::ipc::CallOptions call;
  std::string method = "transform";
  std::string file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--socket" && i + 1 < argc) {
      options.socket_path = argv[++i];
    } else if (arg == "--method" && i + 1 < argc) {
      method = argv[++i];
    } else if (arg == "--timeout-ms" && i + 1 < argc) {
      call.timeout = std::chrono::milliseconds(std::stoul(argv[++i]));
    } else if (!arg.starts_with("--") && file.empty()) {
      file = arg;
    } else {
      std::cerr << "usage: fastmd-cpp-client [--socket PATH] [--method NAME] [--timeout-ms N] "
                   "[FILE]\n";
      return 2;
    }
  }

  std::ifstream input_file;
  if (!file.empty()) {
    input_file.open(file, std::ios::binary);
    if (!input_file) {
      std::cerr << "fastmd-cpp-client: cannot read " << file << "\n";
      return 1;
    }
  }
  std::istream& input = file.empty() ? std::cin : input_file;
  const std::string params{std::istreambuf_iterator<char>(input), {}};

  options.name = "fastmd-cpp-client";
  options.wants = {method};
  auto client = fastmd::ipc::Client::connect(options);
  if (!client) {
    std::cerr << "fastmd-cpp-client: " << client.error().to_string() << "\n";
    return 1;
  }
  fastmd::ipc::CallResult reply = (*client)->call(method, fastmd::proto::as_bytes(params), call);
  if (!reply) {
    std::cerr << "fastmd-cpp-client: " << reply.error().to_string() << "\n";
    return 1;
  }
  std::cout << reply->text();
  return 0;
}
