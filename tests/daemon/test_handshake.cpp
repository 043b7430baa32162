// Admission and handshake: success, version mismatch, wrong uid, handshake timeout, quotas.
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "daemon_process.hpp"
#include "peer_checks.hpp"
#include "reported_pid.hpp"

using namespace fastmd;
using namespace fastmd::test;

TEST_CASE("a worker and a client complete the handshake and get distinct sessions") {
  DaemonProcess daemon;
  auto worker = RawPeer::connect(daemon.socket_path());
  auto client = RawPeer::connect(daemon.socket_path());
  const auto worker_reply = worker.hello(worker_hello({"transform"}));
  const auto client_reply = client.hello(client_hello({"transform"}));
  const std::uint64_t worker_session = require_welcome(worker_reply);
  const std::uint64_t client_session = require_welcome(client_reply);
  CHECK(worker_session != client_session);
  CHECK(worker_reply.message.id == 1);
  CHECK(worker_reply.body_as<proto::HelloReply>().daemon == FASTMD_VERSION);
}

TEST_CASE("a hello of another protocol version is answered with VERSION_MISMATCH, then closed") {
  DaemonProcess daemon;
  auto peer = RawPeer::connect(daemon.socket_path());
  const proto::ByteBuffer params = proto::encode_body(client_hello({}));
  proto::Message hello = proto::Message::request(41, proto::kHello, params);
  hello.version = 2;
  peer.send(hello);
  auto reply = peer.receive();
  REQUIRE(reply);
  require_error(*reply, proto::Errc::version_mismatch);
  CHECK(reply->message.id == 41);
  CHECK(std::string(reply->message.error->message).find("version 2") != std::string::npos);
  CHECK(peer.wait_closed());
}

namespace {

constexpr uid_t kNobody = 65534;

// Says hello as uid/gid 65534 with supplementary `groups`, in a forked child. The result:
// the error code of the answer (Errc::ok when admitted), or std::nullopt when the child failed.
std::optional<proto::Errc> hello_as_nobody(const DaemonProcess& daemon,
                                           const std::vector<gid_t>& groups) {
  // The 0700 directory and 0600 socket already keep other uids out; open them so the child
  // reaches the daemon's own SO_PEERCRED check behind them.
  REQUIRE(::chmod(daemon.directory().c_str(), 0755) == 0);
  REQUIRE(::chmod(daemon.socket_path().c_str(), 0666) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Exit codes: the answer's Errc / 100 (0 admitted, 2 PERMISSION_DENIED...), 9 failure.
    if (::setgroups(groups.size(), groups.data()) != 0 ||
        ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      _exit(9);
    }
    try {
      auto peer = RawPeer::connect(daemon.socket_path());
      auto reply = peer.hello(client_hello({}));
      if (!reply.message.error) _exit(0);
      _exit(reply.message.error->code == proto::Errc::permission_denied && peer.wait_closed() ? 2
                                                                                              : 9);
    } catch (...) {
      _exit(9);
    }
  }
  int status = 0;
  for (int i = 0; i < 1000 && ::waitpid(child, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  if (::waitpid(child, &status, WNOHANG) == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return std::nullopt;
  }
  if (!WIFEXITED(status)) return std::nullopt;
  switch (WEXITSTATUS(status)) {
    case 0:
      return proto::Errc::ok;
    case 2:
      return proto::Errc::permission_denied;
    default:
      return std::nullopt;
  }
}

}  // namespace

TEST_CASE("a peer of another uid is refused with PERMISSION_DENIED") {
  if (::geteuid() != 0) {
    WARN("skipped: dropping to another uid needs root");
    return;
  }
  DaemonProcess daemon;
  CHECK(hello_as_nobody(daemon, {}) == proto::Errc::permission_denied);
  CHECK(daemon.wait_for_log("PERMISSION_DENIED: uid 65534"));
}

TEST_CASE("allow-lists admit another uid, or a member of an allowed group") {
  if (::geteuid() != 0) {
    WARN("skipped: dropping to another uid needs root");
    return;
  }
  SECTION("by uid") {
    DaemonProcess daemon({"--allow-uid", "65534"});
    CHECK(hello_as_nobody(daemon, {}) == proto::Errc::ok);
  }
  SECTION("by supplementary group (SO_PEERGROUPS)") {
    DaemonProcess daemon({"--allow-gid", "4242"});
    // Where the platform cannot list a peer's groups, only the primary gid can match
    // (docs/platforms.md), so the member is refused like anyone else.
    CHECK(hello_as_nobody(daemon, {4242}) == (fastmd::platform::capabilities().peer_groups
                                                  ? proto::Errc::ok
                                                  : proto::Errc::permission_denied));
    CHECK(hello_as_nobody(daemon, {4243}) == proto::Errc::permission_denied);
  }
}

TEST_CASE("a peer that never says hello gets HANDSHAKE_TIMEOUT and is closed") {
  DaemonProcess daemon({"--handshake-timeout-ms", "200"});
  auto peer = RawPeer::connect(daemon.socket_path());
  const auto start = std::chrono::steady_clock::now();
  auto reply = peer.receive(5s);
  REQUIRE(reply);
  require_error(*reply, proto::Errc::handshake_timeout);
  CHECK(reply->message.id == 0);  // no request to name: PROTOCOL.md §3.6
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
  CHECK(peer.wait_closed());
  CHECK(daemon.wait_for_log("disconnected hostile peer session 1 (before its handshake, pid " +
                            std::to_string(fastmd::test::reported_pid(::getpid()))));
}

TEST_CASE("a hello with invalid fields is refused with the field named") {
  DaemonProcess daemon;
  auto peer = RawPeer::connect(daemon.socket_path());
  proto::Hello hello = worker_hello({});  // a worker must serve something
  auto reply = peer.hello(hello);
  require_error(reply, proto::Errc::invalid_field);
  CHECK(std::string(reply.message.error->message).find("at least one method") != std::string::npos);
  CHECK(peer.wait_closed());
}

TEST_CASE("sessions beyond the per-uid limit are refused with QUOTA_EXCEEDED") {
  DaemonProcess daemon({"--max-sessions-per-uid", "2"});
  // Connections count from accept (a flood of unfinished handshakes is bounded too), so each
  // peer connects after the previous one's hello.
  auto first = RawPeer::connect(daemon.socket_path());
  require_welcome(first.hello(client_hello({})));
  auto second = RawPeer::connect(daemon.socket_path());
  require_welcome(second.hello(client_hello({})));
  auto third = RawPeer::connect(daemon.socket_path());
  require_error(third.hello(client_hello({})), proto::Errc::quota_exceeded);
  CHECK(third.wait_closed());
  // The quota frees up when a session ends.
  { RawPeer closing = std::move(second); }
  REQUIRE(wait_for_status(first,
                          [](const StatusReport& s) { return s.number("sessions_total") == 1; }));
  auto replacement = RawPeer::connect(daemon.socket_path());
  require_welcome(replacement.hello(client_hello({})));
}

TEST_CASE(
    "observers and clients and workers may each repeat ipc.status and get each answer by its id") {
  DaemonProcess daemon;
  for (const proto::Hello& hello :
       {observer_hello(), client_hello({"transform"}), worker_hello({"transform"})}) {
    INFO("role " << proto::role_name(hello.role));
    auto peer = RawPeer::connect(daemon.socket_path());
    require_welcome(peer.hello(hello));
    for (std::uint64_t id = 2; id <= 4; ++id) {
      peer.send(proto::Message::request(id, proto::kStatus));
      // Announcements (ipc.no_worker, ipc.introduce) may come first.
      std::optional<Received> reply;
      do {
        reply = peer.receive();
        REQUIRE(reply);
      } while (!reply->message.is_response());
      CHECK(reply->message.id == id);
      CHECK(StatusReport(*reply).number("sessions_total") >= 1);
    }
    CHECK_FALSE(peer.closed());
  }
}
