// Pools end to end with the real fastmd-ipcd: a worker's 10 MiB block read in place by a
// client through the segment the daemon introduced, the worker killed with SIGKILL while the
// block is held and its segment back in the pool (status counters), and a daemon killed with
// SIGKILL whose named segments the next daemon removes. Then the attacks on a returned
// segment: a former holder's kept mapping, changed seals, a truncated shm object. Every wait
// is bounded.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"
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

namespace {

// A pool of exactly one 8 MiB segment, so every session gets the same slot in turn.
std::vector<std::string> one_slot_pool(const std::string& backing) {
  return {"--pool-backing", backing, "--pool-size-mib", "10", "--segment-size-kib", "8192"};
}

struct Attached {
  std::optional<RawPeer> peer;  // reset: the session ends
  fastmd::proto::SegmentInfo segment;
  fastmd::platform::UniqueFd fd;
};

// A client with a segment of its own, as the hello reply gave it.
Attached attach(const DaemonProcess& daemon, const std::string& name) {
  auto peer = RawPeer::connect(daemon.socket_path());
  auto reply = peer.hello(with_segment(fastmd::test::client_hello({"echo"}, name)));
  fastmd::test::require_welcome(reply);
  const auto welcome = reply.body_as<fastmd::proto::HelloReply>();
  REQUIRE(welcome.segment.has_value());
  REQUIRE(reply.fds.size() == 1);
  return {std::move(peer), *welcome.segment, std::move(reply.fds[0])};
}

// Waits until the pool has taken `reclaims` segments back.
void wait_reclaimed(RawPeer& observer, std::uint64_t reclaims) {
  CHECK(fastmd::test::wait_for_status(
      observer, [&](const StatusReport& s) { return pool_number(s, "reclaims") == reclaims; },
      10s));
}

// A worker without a segment that stays through the attack: the well-behaved neighbour; and
// an observer that watches the pool.
struct Neighbour {
  explicit Neighbour(const DaemonProcess& daemon)
      : peer(RawPeer::connect(daemon.socket_path())),
        observer(RawPeer::connect(daemon.socket_path())) {
    fastmd::test::require_welcome(peer.hello(fastmd::test::worker_hello({"echo"}, "neighbour")));
    fastmd::test::require_welcome(observer.hello(fastmd::test::observer_hello()));
    StatusReport settled(observer.status());  // both sessions are whole: fds count from here
  }
  // Still served: a new client is introduced to it and the channel carries bytes.
  void check_served(const DaemonProcess& daemon) {
    auto client = RawPeer::connect(daemon.socket_path());
    const auto probe =
        fastmd::test::require_welcome(client.hello(fastmd::test::client_hello({"echo"}, "probe")));
    auto mine = client.receive_notification(fastmd::proto::kIntroduce);
    REQUIRE(mine);
    auto theirs = peer.receive_notification(fastmd::proto::kIntroduce);
    // Skip the introductions to the attackers that came before.
    while (theirs && theirs->body_as<fastmd::proto::Introduce>().peer != probe) {
      theirs = peer.receive_notification(fastmd::proto::kIntroduce);
    }
    REQUIRE(theirs);
    REQUIRE(::send(mine->fds[0].get(), "ok", 2, MSG_NOSIGNAL) == 2);
    pollfd readable{theirs->fds[0].get(), POLLIN, 0};
    REQUIRE(::poll(&readable, 1, 5000) == 1);
    char got[2] = {};
    CHECK(::recv(theirs->fds[0].get(), got, 2, 0) == 2);
    CHECK(std::string_view(got, 2) == "ok");
  }
  RawPeer peer;
  RawPeer observer;
};

}  // namespace

TEST_CASE("a segment back in the pool cannot be read or written through by its former holder",
          "[shm][daemon]") {
  constexpr std::size_t kBlock = 1024 * 1024;
  DaemonProcess daemon(one_slot_pool("memfd"));
  Neighbour neighbour(daemon);
  const std::size_t baseline_fds = daemon.open_fds();

  // The former holder keeps its fd and a writable mapping after its session ends.
  auto former = attach(daemon, "former");
  auto kept = fastmd::platform::Mapping::map(former.fd.get(), former.segment.size, true);
  REQUIRE(kept.ok());
  std::memset(kept->data() + 4096, 0x5a, 4096);
  former.peer.reset();  // its session ends
  wait_reclaimed(neighbour.observer, 1);
  // Its object left the pool: the view keeps reading its own bytes (a Node client's result
  // Buffers over a dead worker's blocks rely on that, docs/shm.md), and nobody else gets it.
  const std::vector<std::byte> own(kept->data(), kept->data() + kept->size());
  CHECK(std::all_of(kept->data() + 4096, kept->data() + 8192,
                    [](std::byte b) { return b == std::byte{0x5a}; }));

  // The same slot goes to the next session, whose bytes the old view never sees...
  auto next = attach(daemon, "next");
  CHECK(next.segment.segment == former.segment.segment);
  CHECK(next.segment.generation == former.segment.generation + 1);
  auto writer = SegmentWriter::open(fastmd::platform::UniqueFd(::dup(next.fd.get())), next.segment);
  REQUIRE(writer.ok());
  auto block = (*writer)->allocate(kBlock, 0ms);
  REQUIRE(block.ok());
  fill_pattern(block->data(), 21);
  const ShmHandle handle = block->seal(kBlock);
  CHECK(std::equal(own.begin(), own.end(), kept->data()));
  // ...and what the old view writes never reaches them.
  std::memset(kept->data(), 0xee, kept->size());
  auto reader = SegmentReader::open(std::move(next.fd), next.segment);
  REQUIRE(reader.ok());
  auto view = reader->read(handle);
  REQUIRE(view.ok());
  CHECK(has_pattern(*view, 21));

  neighbour.check_served(daemon);
  kept->reset();
  former.fd.reset();
  next.peer.reset();
  CHECK(daemon.wait_open_fds(baseline_fds) == baseline_fds);
}

TEST_CASE("a client that changes its segment's seals does not spoil the slot", "[shm][daemon]") {
  DaemonProcess daemon(one_slot_pool("memfd"));
  Neighbour neighbour(daemon);
  const std::size_t baseline_fds = daemon.open_fds();
  {
    auto poisoner = attach(daemon, "poisoner");
    auto poisoned = fastmd::platform::add_seals(poisoner.fd.get(), F_SEAL_FUTURE_WRITE);
    // Without seals on the platform there is nothing to poison (docs/platforms.md).
    CHECK(poisoned.ok() == fastmd::platform::capabilities().sealing);
  }
  wait_reclaimed(neighbour.observer, 1);

  // The next session of the slot gets a segment with exactly the pool's seals, and writes in it.
  auto next = attach(daemon, "next");
  auto seals = fastmd::platform::get_seals(next.fd.get());
  if (fastmd::platform::capabilities().sealing) {
    REQUIRE(seals.ok());
    CHECK(*seals == fastmd::platform::kSegmentSeals);
  } else {
    CHECK_FALSE(seals.ok());
  }
  auto writer = SegmentWriter::open(std::move(next.fd), next.segment);
  REQUIRE(writer.ok());
  auto block = (*writer)->allocate(4096, 0ms);
  REQUIRE(block.ok());
  fill_pattern(block->data(), 3);

  neighbour.check_served(daemon);
  next.peer.reset();
  CHECK(daemon.wait_open_fds(baseline_fds) == baseline_fds);
}

TEST_CASE("with the shm backing, a client that truncates its segment and leaves harms nothing",
          "[shm][daemon]") {
  DaemonProcess daemon(one_slot_pool("shm"));
  Neighbour neighbour(daemon);
  const std::size_t baseline_fds = daemon.open_fds();
  REQUIRE(shm_names(daemon.pid()).size() == 1);
  for (const off_t size : {off_t{0}, off_t{4096}}) {
    {
      auto truncator = attach(daemon, "truncator");
      REQUIRE(::ftruncate(truncator.fd.get(), size) == 0);
    }
    // No SIGBUS: the daemon answers, and the slot holds one fresh object again.
    wait_reclaimed(neighbour.observer, size == 0 ? 1 : 2);
    CHECK(shm_names(daemon.pid()).size() == 1);
  }
  auto next = attach(daemon, "next");
  auto writer = SegmentWriter::open(std::move(next.fd), next.segment);
  REQUIRE(writer.ok());
  auto block = (*writer)->allocate(kPayload / 2, 0ms);
  REQUIRE(block.ok());
  fill_pattern(block->data(), 4);

  neighbour.check_served(daemon);
  next.peer.reset();
  CHECK(daemon.wait_open_fds(baseline_fds) == baseline_fds);
  const pid_t pid = daemon.pid();
  CHECK(daemon.stop(SIGTERM, 10s) == 0);
  CHECK(shm_names(pid).empty());
}
