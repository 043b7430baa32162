// Pools end to end with the real fastmd-ipcd: a worker's 10 MiB block read in place by a
// client through the segment the daemon introduced, the worker killed with SIGKILL while the
// block is held and its segment back in the pool (status counters), and a daemon killed with
// SIGKILL whose named segments the next daemon removes. Every wait is bounded.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "peer_checks.hpp"
#include "raw_peer.hpp"
#include "segment_fixture.hpp"

using fastmd::proto::Errc;
using fastmd::proto::ShmHandle;
using fastmd::shm::SegmentReader;
using fastmd::shm::SegmentWriter;
using fastmd::shm::testing::fill_pattern;
using fastmd::shm::testing::has_pattern;
using fastmd::test::DaemonProcess;
using fastmd::test::RawPeer;
using fastmd::test::StatusReport;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kPayload = 10 * 1024 * 1024;

// pools[0].<key> of a status report.
std::uint64_t pool_number(const StatusReport& report, std::string_view key) {
  const msgpack::object* pools = report.find("pools");
  REQUIRE(pools != nullptr);
  REQUIRE(pools->type == msgpack::type::ARRAY);
  REQUIRE(pools->via.array.size >= 1);
  const msgpack::object& pool = pools->via.array.ptr[0];
  REQUIRE(pool.type == msgpack::type::MAP);
  for (std::uint32_t i = 0; i < pool.via.map.size; ++i) {
    const auto& kv = pool.via.map.ptr[i];
    if (std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
      REQUIRE(kv.val.type == msgpack::type::POSITIVE_INTEGER);
      return kv.val.via.u64;
    }
  }
  FAIL("pools[0] has no " << key);
  return 0;
}

// The support helpers ask for no segment; these tests want one.
fastmd::proto::Hello with_segment(fastmd::proto::Hello hello) {
  hello.shm = true;
  return hello;
}

std::vector<std::string> shm_names(pid_t daemon_pid) {
  const std::string prefix =
      "fastmd-" + std::to_string(::getuid()) + "-" + std::to_string(daemon_pid) + "-";
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) names.push_back(name);
  }
  return names;
}

// The child: a worker that writes a 10 MiB block into its own segment, reports the handle
// through `report`, and then holds it until it is killed (or 60 s pass).
[[noreturn]] void run_holder(const std::string& socket_path, int report) {
  try {
    auto worker = RawPeer::connect(socket_path);
    auto reply = worker.hello(with_segment(fastmd::test::worker_hello({"echo"}, "holder")));
    if (reply.message.error) ::_exit(2);
    if (reply.fds.size() != 1) ::_exit(8);
    const auto welcome = reply.body_as<fastmd::proto::HelloReply>();
    if (!welcome.segment) ::_exit(3);
    auto writer = SegmentWriter::open(std::move(reply.fds[0]), *welcome.segment);
    if (!writer) ::_exit(4);
    auto block = (*writer)->allocate(kPayload, 0ms);
    if (!block) ::_exit(5);
    fill_pattern(block->data(), 10);
    const ShmHandle handle = block->seal(kPayload);
    if (::write(report, &handle, sizeof handle) != sizeof handle) ::_exit(6);
    ::sleep(60);
  } catch (...) {
    ::_exit(7);
  }
  ::_exit(0);
}

}  // namespace

TEST_CASE("a holder killed with SIGKILL gets its segment reclaimed, and peers are told",
          "[shm][daemon]") {
  // Two segments of 16 MiB: one for the client, one for the holder.
  DaemonProcess daemon({"--pool-size-mib", "32", "--segment-size-kib", "16384"});
  auto observer = RawPeer::connect(daemon.socket_path());
  fastmd::test::require_welcome(observer.hello(fastmd::test::observer_hello()));
  auto client = RawPeer::connect(daemon.socket_path());
  fastmd::test::require_welcome(client.hello(with_segment(fastmd::test::client_hello({"echo"}))));

  int report[2];
  REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  fastmd::platform::UniqueFd report_read(report[0]);
  const pid_t holder = ::fork();
  REQUIRE(holder >= 0);
  if (holder == 0) run_holder(daemon.socket_path(), report[1]);
  ::close(report[1]);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid < 0) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{holder};

  pollfd ready{report_read.get(), POLLIN, 0};
  REQUIRE(::poll(&ready, 1, 30000) == 1);
  ShmHandle handle;
  if (::read(report_read.get(), &handle, sizeof handle) != sizeof handle) {
    int status = 0;
    ::waitpid(holder, &status, 0);
    reaper.pid = -1;
    const StatusReport now(observer.status());
    FAIL("the holder failed before writing its block, exit code "
         << WEXITSTATUS(status) << "; pool: " << pool_number(now, "segments_in_use") << " in use, "
         << pool_number(now, "exhausted") << " exhausted, " << pool_number(now, "quota_refused")
         << " refused by quota\n"
         << daemon.log());
  }

  // The client is introduced to the holder with the holder's segment and reads in place.
  auto introduce = client.receive_notification(fastmd::proto::kIntroduce, 10s);
  REQUIRE(introduce.has_value());
  REQUIRE(introduce->fds.size() == 2);
  const auto about = introduce->body_as<fastmd::proto::Introduce>();
  REQUIRE(about.segment.has_value());
  CHECK(about.segment->segment == handle.segment);
  auto reader = SegmentReader::open(std::move(introduce->fds[1]), *about.segment);
  REQUIRE(reader.ok());
  auto view = reader->read(handle);
  REQUIRE(view.ok());
  CHECK(view->size() == kPayload);
  CHECK(has_pattern(*view, 10));

  CHECK(pool_number(StatusReport(observer.status()), "segments_in_use") == 2);
  const std::uint64_t reclaims_before = pool_number(StatusReport(observer.status()), "reclaims");

  // Killed while its block is still held (never released by the client).
  REQUIRE(::kill(holder, SIGKILL) == 0);
  CHECK(client.receive_notification(fastmd::proto::kPeerGone, 10s).has_value());
  CHECK(fastmd::test::wait_for_status(
      observer,
      [&](const StatusReport& s) {
        return pool_number(s, "segments_in_use") == 1 &&
               pool_number(s, "reclaims") == reclaims_before + 1;
      },
      10s));

  // The slot comes back with fresh, zeroed memory at the next generation: the old handle is
  // stale there. The old memory stays as it was for whoever still maps it (a Node client's
  // result Buffers over the holder's blocks, docs/sdk-node.md): the block reads unchanged.
  auto next = RawPeer::connect(daemon.socket_path());
  auto reply = next.hello(with_segment(fastmd::test::worker_hello({"echo"}, "successor")));
  fastmd::test::require_welcome(reply);
  const auto welcome = reply.body_as<fastmd::proto::HelloReply>();
  REQUIRE(welcome.segment.has_value());
  REQUIRE(reply.fds.size() == 1);
  CHECK(welcome.segment->segment == handle.segment);
  CHECK(welcome.segment->generation == handle.generation + 1);
  auto fresh = SegmentReader::open(std::move(reply.fds[0]), *welcome.segment);
  REQUIRE(fresh.ok());
  auto stale = fresh->read(handle);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == Errc::shm_stale_generation);
  auto kept = reader->read(handle);
  REQUIRE(kept.ok());
  CHECK(has_pattern(*kept, 10));
}

TEST_CASE("a daemon killed with SIGKILL leaves named segments; its successor removes them",
          "[shm][daemon]") {
  const std::vector<std::string> args = {"--pool-backing",     "shm", "--pool-size-mib", "16",
                                         "--segment-size-kib", "4096"};
  DaemonProcess first(args);
  const pid_t first_pid = first.pid();
  CHECK(shm_names(first_pid).size() == 4);
  REQUIRE(first.stop(SIGKILL, 10s).has_value());
  CHECK(shm_names(first_pid).size() == 4);  // nobody cleaned up after SIGKILL

  {
    DaemonProcess second(args, first.socket_path());  // restart on the same socket
    CHECK(shm_names(first_pid).empty());
    CHECK(shm_names(second.pid()).size() == 4);
    const pid_t second_pid = second.pid();
    REQUIRE(second.stop(SIGTERM, 10s) == 0);
    CHECK(shm_names(second_pid).empty());  // a clean exit removes its own
  }
}
