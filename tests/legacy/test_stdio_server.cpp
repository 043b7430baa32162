// The legacy NDJSON server: its semantics in-process (StdioServer on pipes, with handlers the
// test controls, so ordering is deterministic), and fastmd-worker-md --stdio as a process
// (pipelining, payload sizes, limits, exit codes).
#include <catch2/catch.hpp>

#include <future>
#include <map>
#include <thread>

#include "fastmd/ipc/stdio_server.hpp"
#include "fastmd/proto/ndjson.hpp"
#include "stdio_child.hpp"

namespace {

using namespace std::chrono_literals;
using fastmd::ipc::MethodTable;
using fastmd::ipc::ResultWriter;
using fastmd::proto::ByteView;
using fastmd::proto::Errc;
using fastmd::proto::Message;
using fastmd::test::LinePipes;
using fastmd::test::StdioChild;

std::string request_line(std::uint64_t id, std::string_view method, std::string_view params = {}) {
  fastmd::proto::ndjson::Encoder encoder;
  fastmd::proto::ndjson::LineBuffer buffer;
  encoder.append_line(Message::request(id, method, fastmd::proto::as_bytes(params)), buffer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string cancel_line(std::uint64_t id) {
  fastmd::proto::ndjson::Encoder encoder;
  fastmd::proto::ndjson::LineBuffer buffer;
  const std::string params = fastmd::proto::ndjson::cancel_params(id);
  encoder.append_line(Message::notification("ipc.cancel", fastmd::proto::as_bytes(params)), buffer);
  return {buffer.GetString(), buffer.GetSize()};
}

struct Response {
  std::uint64_t id = 0;
  Errc code = Errc::ok;  // ok: a result
  std::string text;      // the result, or the error message
};

// Reads and decodes the next response; fails the test when none comes within the wait.
Response next_response(LinePipes& pipes, std::chrono::milliseconds timeout = 30s) {
  std::optional<std::string> line = pipes.read_line(timeout);
  REQUIRE(line.has_value());
  fastmd::proto::ndjson::Decoder decoder;
  auto message = decoder.decode(*line);
  REQUIRE(message.ok());
  REQUIRE(message->is_response());
  Response response{message->id, Errc::ok, std::string(fastmd::proto::as_chars(message->payload))};
  if (message->error) {
    response.code = message->error->code;
    response.text = std::string(message->error->message);
  }
  return response;
}

// Lets a test hold handlers until it opens the gate, and see that one has arrived there
// (bounded: a gate never opened opens by itself after 30 s, so a failing test cannot hang).
class Gate {
 public:
  void wait() {
    if (!someone_arrived_.exchange(true)) arrived_.set_value();
    (void)opened_.wait_for(30s);
  }
  void open() {
    if (!is_open_.exchange(true)) promise_.set_value();
  }
  /// True once a handler waits at the gate (within 30 s).
  bool wait_for_arrival() { return arrival_.wait_for(30s) == std::future_status::ready; }

 private:
  std::promise<void> promise_;
  std::shared_future<void> opened_ = promise_.get_future().share();
  std::atomic<bool> is_open_{false};
  std::promise<void> arrived_;
  std::future<void> arrival_ = arrived_.get_future();
  std::atomic<bool> someone_arrived_{false};
};

MethodTable test_methods(Gate& gate) {
  MethodTable methods;
  methods.add(
      "echo", [](ByteView in, ResultWriter& out) { out.append(in); }, 4);
  methods.add("block", [&gate](ByteView in, ResultWriter& out) {
    gate.wait();
    out.append(in);
  });
  methods.add("fail", [](ByteView, ResultWriter&) { throw std::runtime_error("boom"); });
  methods.add("refuse", [](ByteView, ResultWriter&) {
    throw fastmd::ipc::CallError(Errc::payload_too_large, "too big for me");
  });
  return methods;
}

// A StdioServer on pipes, running on its own thread; its output closes when run() returns.
class ServerOnPipes {
 public:
  /// Serves test_methods(gate) on `threads` handler threads.
  ServerOnPipes(Gate& gate, unsigned threads) : gate_(gate) {
    MethodTable methods = test_methods(gate);
    pipes_ = LinePipes::make(ends_);
    server_ = std::make_unique<fastmd::ipc::StdioServer>(
        std::move(methods),
        fastmd::ipc::StdioServerOptions{
            .input_fd = ends_.input.get(), .output_fd = ends_.output.get(), .threads = threads});
    thread_ = std::thread([this] {
      status_ = server_->run();
      ends_.output.reset();
      finished_.set_value();
    });
  }
  ~ServerOnPipes() {
    gate_.open();
    pipes_.close_input();
    if (thread_.joinable()) thread_.join();
  }

  LinePipes& pipes() { return pipes_; }

  /// run()'s outcome, once it returned (within 30 s).
  fastmd::proto::Status result() {
    REQUIRE(finished_.get_future().wait_for(30s) == std::future_status::ready);
    return status_;
  }

 private:
  Gate& gate_;
  LinePipes::PeerEnds ends_;
  LinePipes pipes_;
  std::unique_ptr<fastmd::ipc::StdioServer> server_;
  fastmd::proto::Status status_;
  std::promise<void> finished_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("responses come as calls finish, not in request order") {
  Gate gate;
  ServerOnPipes server(gate, 2);
  REQUIRE(server.pipes().write(request_line(1, "block", "slow") + request_line(2, "echo", "fast")));
  Response first = next_response(server.pipes());
  CHECK(first.id == 2);
  CHECK(first.text == "fast");
  gate.open();
  Response second = next_response(server.pipes());
  CHECK(second.id == 1);
  CHECK(second.text == "slow");
}

TEST_CASE(
    "ipc.cancel answers a call that has not started with CANCELLED; a running one completes") {
  Gate gate;
  ServerOnPipes server(gate, 2);
  // block has concurrency 1: call 1 runs, call 2 waits, and is cancelled.
  REQUIRE(server.pipes().write(request_line(1, "block", "one") + request_line(2, "block", "two")));
  REQUIRE(gate.wait_for_arrival());  // call 1 runs
  REQUIRE(server.pipes().write(cancel_line(2) + cancel_line(1) + cancel_line(99)));
  Response cancelled = next_response(server.pipes());
  CHECK(cancelled.id == 2);
  CHECK(cancelled.code == Errc::cancelled);
  gate.open();
  Response completed = next_response(server.pipes());
  CHECK(completed.id == 1);
  CHECK(completed.code == Errc::ok);
  CHECK(completed.text == "one");
  // Nothing else was answered (the cancel of 1 and of the unknown 99 answer nothing).
  server.pipes().close_input();
  CHECK(server.pipes().output_ended());
  CHECK(server.result().ok());
}

TEST_CASE("handler failures, unknown methods and bad requests are answered; the server goes on") {
  Gate gate;
  ServerOnPipes server(gate, 1);
  REQUIRE(server.pipes().write(request_line(1, "fail") + request_line(2, "refuse") +
                               request_line(3, "nope") +
                               R"({"version":1,"type":"request","id":4,"method":"echo","params":5})"
                               "\n" +
                               request_line(5, "echo", "still here")));
  std::map<std::uint64_t, Response> responses;
  for (int i = 0; i < 5; ++i) {
    Response r = next_response(server.pipes());
    responses[r.id] = r;
  }
  CHECK(responses[1].code == Errc::handler_failed);
  CHECK(responses[1].text == "boom");
  CHECK(responses[2].code == Errc::payload_too_large);
  CHECK(responses[2].text == "too big for me");
  CHECK(responses[3].code == Errc::method_not_found);
  CHECK(responses[3].text == "no worker serves method 'nope' (served: block, echo, fail, refuse)");
  CHECK(responses[4].code == Errc::wrong_field_type);
  CHECK(responses[5].code == Errc::ok);
  CHECK(responses[5].text == "still here");
}

TEST_CASE("an id already in flight is refused with INVALID_FIELD") {
  Gate gate;
  ServerOnPipes server(gate, 1);
  REQUIRE(
      server.pipes().write(request_line(7, "block", "first") + request_line(7, "echo", "again")));
  Response refused = next_response(server.pipes());
  CHECK(refused.id == 7);
  CHECK(refused.code == Errc::invalid_field);
  gate.open();
  Response first = next_response(server.pipes());
  CHECK(first.code == Errc::ok);
  CHECK(first.text == "first");
}

TEST_CASE("at end of input the server answers every call in flight, then returns OK") {
  Gate gate;
  ServerOnPipes server(gate, 2);
  REQUIRE(server.pipes().write(request_line(1, "block", "a") + request_line(2, "echo", "b")));
  CHECK(next_response(server.pipes()).id == 2);
  server.pipes().close_input();
  gate.open();
  Response last = next_response(server.pipes());
  CHECK(last.id == 1);
  CHECK(last.text == "a");
  CHECK(server.pipes().output_ended());
  CHECK(server.result().ok());
}

TEST_CASE("a line that names no request ends the session after the calls in flight are answered") {
  Gate gate;
  ServerOnPipes server(gate, 1);
  REQUIRE(server.pipes().write(request_line(1, "block", "a") + "this is not json\n" +
                               request_line(2, "echo", "never read")));
  gate.open();
  Response answered = next_response(server.pipes());
  CHECK(answered.id == 1);
  CHECK(server.pipes().output_ended());
  auto status = server.result();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == Errc::malformed);
}

TEST_CASE("fastmd-worker-md --stdio answers 10,000 pipelined requests, each exactly once") {
  StdioChild worker("fastmd-worker-md", {"--stdio", "--concurrency", "2"});
  constexpr std::uint64_t kCalls = 10000;
  auto payload_of = [](std::uint64_t id) { return "# call " + std::to_string(id) + "\n"; };
  std::thread writer([&] {
    std::string batch;
    for (std::uint64_t id = 1; id <= kCalls; ++id) {
      batch += request_line(id, id % 2 ? "echo" : "transform", payload_of(id));
      if (batch.size() > 32768 || id == kCalls) {
        if (!worker.pipes().write(batch)) return;
        batch.clear();
      }
    }
    worker.pipes().close_input();
  });
  std::vector<int> seen(kCalls + 1, 0);
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < kCalls; ++i) {
    Response r = next_response(worker.pipes());
    REQUIRE(r.id >= 1);
    REQUIRE(r.id <= kCalls);
    ++seen[r.id];
    const std::string want =
        r.id % 2 ? payload_of(r.id) : "<h1>call " + std::to_string(r.id) + "</h1>\n";
    if (r.code != Errc::ok || r.text != want) ++wrong;
  }
  writer.join();
  CHECK(wrong == 0);
  CHECK(std::count(seen.begin() + 1, seen.end(), 1) == static_cast<long>(kCalls));
  CHECK(worker.pipes().output_ended());
  CHECK(worker.wait_exit() == 0);
}

TEST_CASE("fastmd-worker-md --stdio echoes 0 B to 10 MiB, text and binary, byte for byte") {
  StdioChild worker("fastmd-worker-md", {"--stdio"});
  std::string binary(1 << 20, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 131 + 7);
  std::string text;
  while (text.size() < (10u << 20)) text += "line \"with\" \\escapes\\\tand caf\xc3\xa9\n";
  const std::vector<std::string> payloads = {"", std::string(1024, 'k'), std::string(1 << 20, 'm'),
                                             text, binary};
  std::thread writer([&] {
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      if (!worker.pipes().write(request_line(i + 1, "echo", payloads[i]))) return;
    }
    worker.pipes().close_input();
  });
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    Response r = next_response(worker.pipes());
    REQUIRE(r.id >= 1);
    REQUIRE(r.id <= payloads.size());
    CHECK(r.code == Errc::ok);
    CHECK(r.text.size() == payloads[r.id - 1].size());
    CHECK(r.text == payloads[r.id - 1]);
  }
  writer.join();
  CHECK(worker.wait_exit() == 0);
}

TEST_CASE("fastmd-worker-md's length method answers the payload's size as decimal text") {
  StdioChild worker("fastmd-worker-md", {"--stdio"});
  REQUIRE(worker.pipes().write(request_line(1, "length", "")));
  CHECK(next_response(worker.pipes()).text == "0");
  REQUIRE(worker.pipes().write(request_line(2, "length", std::string(10u << 20, 'x'))));
  CHECK(next_response(worker.pipes()).text == "10485760");
  worker.pipes().close_input();
  CHECK(worker.wait_exit() == 0);
}

TEST_CASE("fastmd-worker-md --stdio ends with an error on a line over --max-line") {
  StdioChild worker("fastmd-worker-md", {"--stdio", "--max-line", "1024"});
  REQUIRE(worker.pipes().write(request_line(1, "echo", "small")));
  CHECK(next_response(worker.pipes()).text == "small");
  (void)worker.pipes().write(request_line(2, "echo", std::string(4096, 'x')));
  CHECK(worker.pipes().output_ended());
  CHECK(worker.wait_exit() == 1);
}

TEST_CASE("fastmd-worker-md --stdio exits 0 at once on empty input") {
  StdioChild worker("fastmd-worker-md", {"--stdio"});
  worker.pipes().close_input();
  CHECK(worker.pipes().output_ended());
  CHECK(worker.wait_exit() == 0);
}
