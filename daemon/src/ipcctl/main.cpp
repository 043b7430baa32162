// fastmd-ipcctl: asks a running fastmd-ipcd about itself. `fastmd-ipcctl status|pools [--json]
// [--socket PATH]` connects as an observer, sends ipc.status and prints the report (pools: the
// worker pools part).
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "fastmd/ipc/socket_path.hpp"
#include "fastmd/platform/fd_passing.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/frame_reader.hpp"
#include "status_printer.hpp"

namespace {

using fastmd::proto::ByteBuffer;
using fastmd::proto::Errc;
using fastmd::proto::Error;
using fastmd::proto::Result;

constexpr int kReplyTimeoutMs = 5000;

/// Sends `request` and returns the body of the next frame (the daemon answers in order).
Result<ByteBuffer> exchange(int socket, fastmd::proto::FrameReader& reader,
                            const fastmd::proto::Message& request) {
  ByteBuffer frame;
  fastmd::proto::append_frame(request, frame);
  iovec part{frame.data(), frame.size()};
  auto sent = fastmd::platform::send_with_fds(socket, std::span(&part, 1));
  if (!sent) return sent.error();
  if (sent->bytes != frame.size()) return Error{Errc::io_error, "short write to the daemon"};

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
  for (;;) {
    auto next = reader.next();
    if (!next) return next.error();
    if (*next) return ByteBuffer((*next)->begin(), (*next)->end());
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{socket, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) == 0) {
      return Error{Errc::timeout,
                   "the daemon did not answer within " + std::to_string(kReplyTimeoutMs) + " ms"};
    }
    auto received = fastmd::platform::recv_with_fds(socket, reader.writable());
    if (!received) return received.error();
    if (received->eof) return Error{Errc::io_error, "the daemon closed the connection"};
    reader.commit(received->bytes);
  }
}

/// Decodes a response body; a failed response becomes its error.
Result<fastmd::proto::Message> expect_success(fastmd::proto::Decoder& decoder,
                                              const ByteBuffer& body) {
  auto message = decoder.decode(body);
  if (!message) return message.error();
  if (!message->is_response()) {
    return Error{Errc::unexpected_message, "the daemon sent a " +
                                               std::string(message_type_name(message->type)) +
                                               " where a response was expected"};
  }
  if (message->error) {
    return Error{message->error->code, std::string(message->error->message)};
  }
  return *message;
}

/// What to print of the report: all of it, or the worker pools alone.
enum class View { status, pools };

int status(const std::string& socket_option, bool json, View view) {
  const std::string path = fastmd::ipc::resolve_socket_path(socket_option);
  auto socket = fastmd::platform::connect_unix(path);
  if (!socket) {
    std::cerr << "fastmd-ipcctl: " << socket.error().to_string() << "\n";
    return 1;
  }
  fastmd::proto::FrameReader reader(fastmd::proto::kDefaultMaxControlFrame);
  fastmd::proto::Decoder decoder;

  fastmd::proto::Hello hello;
  hello.role = fastmd::proto::Role::observer;
  hello.pid = static_cast<std::uint32_t>(::getpid());
  hello.name = "fastmd-ipcctl";
  hello.shm = false;
  const ByteBuffer hello_params = fastmd::proto::encode_body(hello);
  auto hello_reply =
      exchange(socket->get(), reader,
               fastmd::proto::Message::request(1, fastmd::proto::kHello, hello_params));
  if (hello_reply) {
    if (auto ok = expect_success(decoder, *hello_reply); !ok) hello_reply = ok.error();
  }
  if (!hello_reply) {
    std::cerr << "fastmd-ipcctl: handshake with " << path
              << " failed: " << hello_reply.error().to_string() << "\n";
    return 1;
  }

  auto body =
      exchange(socket->get(), reader, fastmd::proto::Message::request(2, fastmd::proto::kStatus));
  Result<fastmd::proto::Message> reply =
      body ? expect_success(decoder, *body) : Result<fastmd::proto::Message>(body.error());
  if (!reply) {
    std::cerr << "fastmd-ipcctl: status from " << path << " failed: " << reply.error().to_string()
              << "\n";
    return 1;
  }
  fastmd::proto::Decoder status_decoder;
  auto report = status_decoder.unpack(reply->payload);
  if (!report) {
    std::cerr << "fastmd-ipcctl: unreadable status: " << report.error().to_string() << "\n";
    return 1;
  }
  if (view == View::pools) {
    if (json) {
      fastmd::ipcctl::print_worker_pools_json(std::cout, *report);
    } else {
      fastmd::ipcctl::print_worker_pools(std::cout, *report);
    }
  } else if (json) {
    fastmd::ipcctl::print_json(std::cout, *report);
  } else {
    fastmd::ipcctl::print_text(std::cout, *report);
  }
  return 0;
}

/// For a missing or unknown command: what was wrong, the commands, and where to read more.
int command_usage(const CLI::App& app, const std::string& problem) {
  std::cerr << "fastmd-ipcctl: " << problem << "; the commands are:\n";
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
    std::cerr << "  " << command->get_name() << "    " << command->get_description() << "\n";
  }
  std::cerr << "Run 'fastmd-ipcctl COMMAND --help' for a command's options.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fastmd-ipcctl: query a running fastmd-ipcd", "fastmd-ipcctl"};
  app.set_version_flag("--version", std::string("fastmd-ipcctl ") + FASTMD_VERSION);
  app.require_subcommand(1);
  app.footer("Exit status: 0 done, 1 the daemon could not be asked, 2 a usage error.");
  std::string socket_option;
  bool json = false;
  CLI::App* status_command = app.add_subcommand(
      "status", "sessions, workers and their methods, counters, limits, pools, worker pools");
  CLI::App* pools_command = app.add_subcommand(
      "pools",
      "the worker pools: each pool's state, restarts and methods, and its workers "
      "(pid, state, uptime, load)");
  for (CLI::App* command : {status_command, pools_command}) {
    command->add_option("--socket", socket_option,
                        "the daemon's socket (default: $FASTMD_IPC_SOCKET, else the daemon's "
                        "default path)");
    command->add_flag("--json", json, "print the report as JSON");
    command->fallthrough();  // `status --version` as well as `--version`
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 says only "A subcommand is required" or names the stray word; say what to type.
    // (CLI11 checks the required command before it looks at stray words.)
    const bool command_error = dynamic_cast<const CLI::RequiredError*>(&e) != nullptr ||
                               dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
    if (command_error && app.get_subcommands().empty()) {
      for (const std::string& word : app.remaining()) {
        if (word.rfind('-', 0) != 0) return command_usage(app, "unknown command '" + word + "'");
      }
      return command_usage(app, "a command is required");
    }
    return app.exit(e);
  }
  return status(socket_option, json, pools_command->parsed() ? View::pools : View::status);
}
