// stdio_server.cpp — the legacy NDJSON server: the reading thread decodes lines in place and
// queues requests; handler threads run them and send their responses through one batched
// output. With one handler thread, a lone request on an idle server runs on the reading thread
// itself, so a request/response round trip costs no extra thread wake-up.
#include "fastmd/ipc/stdio_server.hpp"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "call_queue.hpp"
#include "fastmd/proto/control.hpp"
#include "fastmd/proto/ndjson.hpp"
#include "line_reader.hpp"
#include "response_output.hpp"

namespace fastmd::ipc {

namespace {

using proto::Errc;
using proto::Message;

// Collects a handler's result in a string that its thread reuses from call to call.
class StringResultWriter final : public ResultWriter {
 public:
  explicit StringResultWriter(std::string& out) : out_(out) { out_.clear(); }
  using ResultWriter::append;
  void append(proto::ByteView bytes) override {
    out_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void reserve(std::size_t total_bytes) override { out_.reserve(total_bytes); }

 private:
  std::string& out_;
};

}  // namespace

class StdioServer::Impl {
 public:
  Impl(MethodTable methods, StdioServerOptions options)
      : methods_(std::move(methods)),
        options_(options),
        reader_(options.input_fd, options.max_line, chunks_),
        decoder_(options.max_line),
        calls_(options.max_in_flight),
        output_(options.output_fd) {
    if (methods_.empty()) throw std::invalid_argument("a StdioServer needs at least one method");
    if (options_.threads == 0) throw std::invalid_argument("a StdioServer needs >= 1 thread");
  }

  proto::Status run() {
    std::vector<std::jthread> handlers;
    for (unsigned i = 0; i < options_.threads; ++i) {
      handlers.emplace_back([this] {
        std::string result;
        while (Call* call = calls_.next()) serve(*call, result);
      });
    }
    std::optional<proto::Error> failure = read_until_end();
    // Everything read is answered before returning, even after a fatal line.
    calls_.wait_until_idle();
    calls_.close();
    handlers.clear();  // joins
    output_.flush();
    if (failure) return *failure;
    return output_.status();
  }

  std::uint64_t answered() const { return answered_.load(std::memory_order_relaxed); }

 private:
  using Call = legacy::Call;

  // Reads and dispatches until the input ends or a line ends the session.
  std::optional<proto::Error> read_until_end() {
    std::string inline_result;
    for (;;) {
      calls_.wait_for_room();
      std::size_t pushed = 0;
      auto read = reader_.read_some([&](std::span<char> line, const legacy::ChunkRef& chunk) {
        if (!fatal_) pushed += on_line(line, chunk);
      });
      if (!read) fatal_ = read.error();
      output_.flush();  // answers the reader gave itself (errors), if any
      // With one handler thread, a lone request runs right here: reading pauses meanwhile,
      // which costs nothing when only one call could run anyway.
      const bool lone = pushed == 1 && !reader_.has_partial_line() && options_.threads == 1;
      if (Call* call = calls_.release(lone && !fatal_)) serve(*call, inline_result);
      if (fatal_) return fatal_;
      if (auto written = output_.status(); !written) return written.error();
      if (*read == legacy::ReadOutcome::end_of_input) return std::nullopt;
    }
  }

  // Handles one line; returns the number of calls queued (0 or 1).
  std::size_t on_line(std::span<char> line, const legacy::ChunkRef& chunk) {
    proto::Result<Message> decoded = decoder_.decode(line);
    if (!decoded) {
      const proto::Error& error = decoded.error();
      if (auto id = decoder_.failed_request_id()) {
        answer_error(*id, error.code, error.message);
        if (error.code == Errc::version_mismatch) fatal_ = error;
      } else {
        fatal_ = error;
      }
      return 0;
    }
    const Message& m = *decoded;
    if (m.is_request()) return on_request(m, chunk);
    if (m.is_notification()) {
      if (m.method == proto::kCancel) on_cancel(m);
      return 0;  // other notifications mean nothing to a worker
    }
    fatal_ = proto::Error{Errc::unexpected_message,
                          "a worker's input holds requests and notifications, not responses"};
    return 0;
  }

  std::size_t on_request(const Message& m, const legacy::ChunkRef& chunk) {
    const MethodTable::Entry* method = methods_.find(m.method);
    if (!method) {
      answer_error(m.id, Errc::method_not_found,
                   proto::method_not_found_message(m.method, methods_.names()));
      return 0;
    }
    if (!calls_.push(Call{m.id, method, m.payload, chunk})) {
      answer_error(m.id, Errc::invalid_field,
                   "id " + std::to_string(m.id) + " is already in flight; ids must be unique");
      return 0;
    }
    return 1;
  }

  void on_cancel(const Message& m) {
    auto id = proto::ndjson::decode_cancel_params(m.payload);
    if (!id) return;  // a cancel names nothing we could answer
    if (calls_.cancel(*id)) {
      answer_error(*id, Errc::cancelled,
                   "call " + std::to_string(*id) + " was cancelled before it started");
    }
  }

  // An answer the reading thread gives itself; flushed after the read (one write per read).
  void answer_error(std::uint64_t id, Errc code, const std::string& message) {
    output_.send(Message::failure(id, code, message), false);
    answered_.fetch_add(1, std::memory_order_relaxed);
  }

  // Runs a started call, sends its response, and ends it. `result` is the thread's buffer.
  void serve(Call& call, std::string& result) {
    std::optional<std::string> failure_message;
    Errc failure_code = Errc::ok;
    try {
      StringResultWriter out(result);
      call.method->handler(call.params, out);
    } catch (const CallError& e) {
      failure_code = e.code();
      failure_message = e.what();
    } catch (const std::exception& e) {
      failure_code = Errc::handler_failed;
      failure_message = e.what();
    } catch (...) {
      failure_code = Errc::handler_failed;
      failure_message = "the handler threw something that is not a std::exception";
    }
    const Message response = failure_message
                                 ? Message::failure(call.id, failure_code, *failure_message)
                                 : Message::response(call.id, proto::as_bytes(result));
    // Flush unless another queued call will: its response then joins this batch.
    output_.send(response, !calls_.has_queued());
    answered_.fetch_add(1, std::memory_order_relaxed);
    calls_.finish(&call);
  }

  MethodTable methods_;
  StdioServerOptions options_;
  legacy::ChunkPool chunks_;  // outlives every call viewing a chunk
  legacy::LineReader reader_;
  proto::ndjson::Decoder decoder_;
  legacy::CallQueue calls_;
  legacy::ResponseOutput output_;
  std::optional<proto::Error> fatal_;  // reading thread only
  std::atomic<std::uint64_t> answered_{0};
};

StdioServer::StdioServer(MethodTable methods, StdioServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(methods), options)) {}

StdioServer::~StdioServer() = default;

proto::Status StdioServer::run() {
  return impl_->run();
}

std::uint64_t StdioServer::answered() const {
  return impl_->answered();
}

}  // namespace fastmd::ipc
