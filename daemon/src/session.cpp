// One peer on the control socket (see session.hpp).
#include "session.hpp"

#include <spdlog/spdlog.h>
#include <asio/post.hpp>

#include "fastmd/platform/exit_watcher.hpp"
#include "fastmd/platform/fd_passing.hpp"

namespace fastmd::daemon {

using platform::UniqueFd;
using proto::Errc;
using proto::Error;

namespace {

// Reads per wake-up before yielding to other sessions, so one flooding peer cannot starve them.
constexpr int kReadsPerTurn = 16;
constexpr std::size_t kReadChunk = 4096;

// The id of a request in a frame that failed to decode (e.g. VERSION_MISMATCH), so the error
// response can name it; 0 when the body holds none.
std::uint64_t request_id_hint(proto::Decoder& decoder, proto::ByteView body) {
  auto object = decoder.unpack(body);
  if (!object) return 0;
  std::uint64_t id = 0;
  (void)proto::for_each_field(*object, "a message",
                              [&](std::string_view key, const msgpack::object& value) {
                                if (key == "id") {
                                  if (auto v = proto::read_uint<std::uint64_t>(value, key)) id = *v;
                                }
                                return proto::Status{};
                              });
  return id;
}

std::string what_arrived(const proto::Message& m) {
  std::string text(proto::message_type_name(m.type));
  if (!m.method.empty()) text += " '" + std::string(m.method) + "'";
  return text;
}

}  // namespace

Session::Session(asio::io_context& io, UniqueFd socket, platform::PeerCredentials peer,
                 std::uint64_t id, SessionHost& host, SessionLimits limits, SessionCharge charge,
                 QueuedBytesCharge queued)
    : io_(io),
      socket_(io, socket.release()),
      process_(io),
      handshake_timer_(io),
      peer_(peer),
      id_(id),
      host_(host),
      limits_(limits),
      reader_(proto::kDefaultMaxControlFrame, kReadChunk),
      decoder_(proto::DecodeLimits::control()),
      charge_(std::move(charge)),
      queued_(std::move(queued)) {}

void Session::start() {
  handshake_timer_.expires_after(limits_.handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](asio::error_code error) {
    if (error || self->state_ != State::awaiting_hello) return;
    self->fail(EndKind::hostile, 0,
               Error{Errc::handshake_timeout,
                     "no ipc.hello within " +
                         std::to_string(self->limits_.handshake_timeout.count()) + " ms"});
  });
  wait_readable();
}

std::string Session::describe() const {
  std::string text = "session " + std::to_string(id_) + " (";
  if (state_ == State::awaiting_hello) {
    text += "before its handshake";
  } else {
    text += std::string(proto::role_name(hello_.role));
    if (!hello_.name.empty()) text += " '" + hello_.name + "'";
  }
  return text + ", pid " + std::to_string(peer_.pid) + ", uid " + std::to_string(peer_.uid) + ")";
}

// ---- reading ----

void Session::wait_readable() {
  socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](asio::error_code error) {
                       if (error || self->state_ == State::closed) return;
                       self->read_ready();
                     });
}

void Session::read_ready() {
  for (int turn = 0; turn < kReadsPerTurn; ++turn) {
    // Control messages never carry fds to the daemon: any fd is refused (and closed).
    auto received = platform::recv_with_fds(socket_.native_handle(), reader_.writable(kReadChunk),
                                            /*max_fds=*/0);
    if (!received) {
      if (received.error().code == Errc::fd_mismatch) {
        close(EndKind::hostile, "attached fds to a frame that takes none");
      } else {
        close(EndKind::normal, received.error().message);
      }
      return;
    }
    if (received->would_block) {
      wait_readable();
      return;
    }
    if (received->eof) {
      close(EndKind::normal, "closed its connection");
      return;
    }
    reader_.commit(received->bytes);
    for (;;) {
      auto frame = reader_.next();
      if (!frame) {
        fail(EndKind::hostile, 0, frame.error());
        return;
      }
      if (!*frame) break;
      if (!handle_frame(**frame)) return;
    }
  }
  // More may be waiting: continue after the other ready handlers had their turn.
  asio::post(io_, [self = shared_from_this()] {
    if (self->state_ != State::closed) self->read_ready();
  });
}

bool Session::handle_frame(proto::ByteView body) {
  auto decoded = decoder_.decode(body);
  if (!decoded) {
    const Error error = decoded.error();
    const EndKind kind = error.code == Errc::version_mismatch ? EndKind::refused : EndKind::hostile;
    fail(kind, request_id_hint(decoder_, body), error);
    return false;
  }
  handle_message(*decoded);
  return state_ != State::closed && !ending_;
}

void Session::handle_message(const proto::Message& m) {
  const std::uint64_t answer_id = m.is_request() ? m.id : 0;
  if (m.fds != 0) {
    fail(EndKind::hostile, answer_id,
         Error{Errc::fd_mismatch, "the frame announces " + std::to_string(m.fds) +
                                      " fds; control messages to the daemon take none"});
    return;
  }
  if (state_ == State::awaiting_hello) {
    if (!m.is_request() || m.method != proto::kHello) {
      fail(EndKind::hostile, answer_id,
           Error{Errc::unexpected_message,
                 "the first frame must be an ipc.hello request, not a " + what_arrived(m)});
      return;
    }
    auto hello = proto::decode_body<proto::Hello>(decoder_, m.payload);
    if (!hello) {
      fail(EndKind::refused, m.id, hello.error());
      return;
    }
    handshake_timer_.cancel();
    host_.hello(*this, m.id, std::move(*hello));
    return;
  }
  if (m.is_request() && m.method == proto::kStatus) {
    host_.status(*this, m.id);
    return;
  }
  if (m.is_request() && m.method == proto::kWant && hello_.role == proto::Role::client) {
    auto want = proto::decode_body<proto::Want>(decoder_, m.payload);
    if (!want) {
      fail(EndKind::hostile, m.id, want.error());
      return;
    }
    host_.want(*this, m.id, std::move(*want));
    return;
  }
  if (m.is_notification() && m.method == proto::kLoad) {
    handle_load(m);
    return;
  }
  if (m.is_notification() && m.method == proto::kDraining && hello_.role == proto::Role::worker) {
    // Its params (an empty map) carry nothing; they are not decoded.
    host_.draining(*this);
    return;
  }
  fail(EndKind::hostile, answer_id,
       Error{Errc::unexpected_message,
             "after the handshake the daemon takes only ipc.status requests (and ipc.want from "
             "a client, ipc.load and ipc.draining from a worker), not a " +
                 what_arrived(m) + " from a " + std::string(proto::role_name(hello_.role))});
}

void Session::handle_load(const proto::Message& m) {
  if (hello_.role != proto::Role::worker) {
    fail(EndKind::hostile, 0,
         Error{Errc::unexpected_message,
               "only a worker reports its load (ipc.load); this session is a " +
                   std::string(proto::role_name(hello_.role))});
    return;
  }
  auto load = proto::decode_body<proto::Load>(decoder_, m.payload);
  if (!load) {
    fail(EndKind::hostile, 0, load.error());
    return;
  }
  load_.record(*load, WorkerLoad::Clock::now());
}

void Session::establish(proto::Hello hello) {
  state_ = State::established;
  hello_ = std::move(hello);
  load_.start(WorkerLoad::Clock::now());
  watch_process();
}

void Session::watch_process() {
  // No watcher (an old kernel, the process already gone, a platform without one, or a pid the
  // platform did not tell): EOF on the socket still tells.
  if (peer_.pid <= 0) return;
  auto watcher = platform::open_exit_watcher(peer_.pid);
  if (!watcher || !watcher->valid()) return;
  process_.assign(watcher->release());
  process_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](asio::error_code error) {
                        if (error || self->state_ == State::closed) return;
                        self->close(EndKind::normal, "its process exited");
                      });
}

// ---- writing ----

void Session::send(const proto::Message& message, std::vector<UniqueFd> fds) {
  if (state_ == State::closed || ending_) return;
  Outbound out;
  proto::append_frame(message, out.bytes);
  out.fds = std::move(fds);
  const std::uint64_t size = out.bytes.size();
  if (queued_.bytes() + size > limits_.max_queued_bytes) {
    end_later(EndKind::slow, "does not read: " + std::to_string(queued_.bytes() + size) +
                                 " bytes would be queued, the session limit is " +
                                 std::to_string(limits_.max_queued_bytes));
    return;
  }
  if (!queued_.add(size)) {
    end_later(EndKind::slow, "does not read: its uid's queued bytes reached the per-uid limit");
    return;
  }
  queue_.push_back(std::move(out));
  flush();
}

void Session::flush() {
  while (!queue_.empty()) {
    Outbound& front = queue_.front();
    iovec part{front.bytes.data() + front.offset, front.bytes.size() - front.offset};
    int fds[proto::kMaxFdsPerFrame];
    std::size_t fd_count = 0;
    for (const UniqueFd& fd : front.fds) fds[fd_count++] = fd.get();
    auto sent = platform::send_with_fds(socket_.native_handle(), std::span(&part, 1),
                                        std::span<const int>(fds, fd_count));
    if (!sent) {
      end_later(EndKind::normal, sent.error().message);
      return;
    }
    if (sent->would_block) {
      wait_writable();
      return;
    }
    front.fds.clear();  // the kernel holds its own references now
    pop_sent(sent->bytes);
  }
  if (draining_) end_later(EndKind::normal, "the daemon is shutting down");
}

void Session::pop_sent(std::size_t bytes) {
  Outbound& front = queue_.front();
  front.offset += bytes;
  queued_.remove(bytes);
  if (front.offset == front.bytes.size()) queue_.pop_front();
}

void Session::wait_writable() {
  if (write_waiting_) return;
  write_waiting_ = true;
  socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                     [self = shared_from_this()](asio::error_code error) {
                       self->write_waiting_ = false;
                       if (error || self->state_ == State::closed) return;
                       self->flush();
                     });
}

// ---- ending ----

void Session::fail(EndKind kind, std::uint64_t request_id, const Error& error) {
  if (state_ == State::closed) return;
  send(proto::Message::failure(request_id, error.code, error.message));
  close(kind, error.to_string());
}

void Session::drain(const std::string& reason) {
  if (state_ != State::established) {
    close(EndKind::normal, "the daemon is shutting down");
    return;
  }
  const proto::ByteBuffer params = proto::encode_body(proto::Shutdown{reason});
  send(proto::Message::notification(proto::kShutdown, params));
  draining_ = true;
  flush();
}

void Session::end_later(EndKind kind, std::string reason) {
  if (ending_) return;
  ending_ = true;
  asio::post(io_, [self = shared_from_this(), kind, reason = std::move(reason)] {
    self->close(kind, reason);
  });
}

void Session::close(EndKind kind, const std::string& reason) {
  if (state_ == State::closed) return;
  const std::string who = describe();
  state_ = State::closed;
  asio::error_code ignored;
  handshake_timer_.cancel();
  socket_.close(ignored);
  process_.close(ignored);
  queue_.clear();
  queued_.reset();
  charge_.reset();
  segment_.reset();  // back to the pool: zeroed, generation bumped
  switch (kind) {
    case EndKind::hostile:
      spdlog::warn("disconnected hostile peer {}: {}", who, reason);
      break;
    case EndKind::slow:
      spdlog::warn("disconnected slow peer {}: {}", who, reason);
      break;
    case EndKind::refused:
      spdlog::info("refused {}: {}", who, reason);
      break;
    case EndKind::normal:
      spdlog::info("{} ended: {}", who, reason);
      break;
  }
  host_.closed(*this, kind, reason);
}

}  // namespace fastmd::daemon
