// One peer on the control socket (see session.hpp).
#include "session.hpp"

#include <spdlog/spdlog.h>
#include <asio/post.hpp>

#include "fastmd/platform/exit_watcher.hpp"

namespace fastmd::daemon {

using platform::UniqueFd;
using proto::Errc;
using proto::Error;

namespace {

// Control frames are small and sessions many: each reads 4 KiB at a time, at most two reads
// per turn (the usual turn: bytes, then EAGAIN) with their frames handled before the next, so
// a session holds a few KiB and at most one frame however fast its peer writes. Asio's
// reactor is edge-triggered: a turn ends at EAGAIN or EOF, never at a short read. Any fd
// that comes with a read ends the session (control messages to the daemon take none).
constexpr ipc::detail::ReadOptions kControlReads{
    .chunk = 4096, .max_fds_per_read = 0, .reads_per_receive = 2, .edge_triggered = true};

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
      socket_(std::in_place, std::move(socket), proto::DecodeLimits::control(), kControlReads),
      readiness_(io, socket_->fd()),
      process_(io),
      handshake_timer_(io),
      peer_(peer),
      id_(id),
      host_(host),
      limits_(limits),
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
  readiness_.wait_readable([self = shared_from_this()](asio::error_code error) {
    if (error || self->state_ == State::closed) return;
    self->read_ready();
  });
}

void Session::read_ready() {
  auto open = socket_->receive();
  if (!open) {
    // Any fd the peer attached was closed at the read that brought it (kControlReads); the
    // session ends without an answer (PROTOCOL.md §3.5).
    if (open.error().code == Errc::fd_mismatch) {
      return close(EndKind::hostile, "attached fds to a frame that takes none");
    }
    return close(EndKind::normal, open.error().message);
  }
  // The frames that arrived before an EOF are handled first.
  for (;;) {
    auto inbound = socket_->next();
    if (!inbound) {
      // A frame that announces fds finds none (FD_MISMATCH), like any frame that breaks the
      // protocol; a newer protocol version is refused, not hostile.
      const Error& error = inbound.error();
      const EndKind kind =
          error.code == Errc::version_mismatch ? EndKind::refused : EndKind::hostile;
      return fail(kind, socket_->failed_request_id(), error);
    }
    if (!*inbound) break;
    handle_message((*inbound)->message);
    if (state_ == State::closed || ending_) return;
  }
  if (!*open) return close(EndKind::normal, "closed its connection");
  if (socket_->more_to_read()) {
    // A flooding peer: continue after the other ready handlers had their turn.
    asio::post(io_, [self = shared_from_this()] {
      if (self->state_ != State::closed) self->read_ready();
    });
    return;
  }
  wait_readable();
}

void Session::handle_message(const proto::Message& m) {
  const std::uint64_t answer_id = m.is_request() ? m.id : 0;
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
  std::vector<int> raw;
  raw.reserve(fds.size());
  for (const UniqueFd& fd : fds) raw.push_back(fd.get());
  // What the socket takes now holds the kernel's references to the fds; a queued frame, the
  // queue's own copies. Ours close when `fds` goes.
  if (auto sent = socket_->send(message, raw); !sent) {
    return end_later(EndKind::normal, sent.error().message);
  }
  after_write();
}

void Session::flush() {
  if (auto flushed = socket_->flush(); !flushed) {
    return end_later(EndKind::normal, flushed.error().message);
  }
  after_write();
}

// The limits are checked once a write is queued (FramedSocket encodes and queues in one
// step), so a queue passes them by at most the one control frame (64 KiB) that ends the
// session, uncharged to the uid if the uid's limit refused it, until close() frees it.
void Session::after_write() {
  const std::uint64_t queued = socket_->backlog_bytes();
  if (queued < queued_.bytes()) queued_.remove(queued_.bytes() - queued);
  if (queued > queued_.bytes() && !queued_.add(queued - queued_.bytes())) {
    return end_later(EndKind::slow,
                     "does not read: its uid's queued bytes reached the per-uid limit");
  }
  if (queued > limits_.max_queued_bytes) {
    return end_later(EndKind::slow, "does not read: " + std::to_string(queued) +
                                        " bytes are queued, the session limit is " +
                                        std::to_string(limits_.max_queued_bytes));
  }
  if (socket_->wants_write()) return wait_writable();
  if (draining_) end_later(EndKind::normal, "the daemon is shutting down");
}

void Session::wait_writable() {
  if (write_waiting_) return;
  write_waiting_ = true;
  readiness_.wait_writable([self = shared_from_this()](asio::error_code error) {
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
  draining_ = true;
  send(proto::Message::notification(proto::kShutdown, params));
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
  readiness_.stop();
  socket_.reset();  // closes the socket, and with its queue the fds still waiting in it
  process_.close(ignored);
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
