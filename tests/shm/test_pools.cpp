// The daemon's pools without the daemon: leasing, exhaustion, quotas, reclaim with a new
// generation and zeroed memory, named backing, capacity checks and /dev/shm cleanup.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fastmd/platform/memfd.hpp"
#include "fastmd/shm/segment.hpp"
#include "fastmd/shm/segment_reader.hpp"
#include "fastmd/shm/segment_writer.hpp"
#include "memory/pools.hpp"

using fastmd::daemon::cleanup_stale_shm_objects;
using fastmd::daemon::kMiB;
using fastmd::daemon::PoolBacking;
using fastmd::daemon::PoolOptions;
using fastmd::daemon::Pools;
using fastmd::daemon::SegmentLease;
using fastmd::platform::UniqueFd;
using fastmd::proto::Errc;
using namespace std::chrono_literals;

namespace {

PoolOptions small_pool(PoolBacking backing = PoolBacking::memfd) {
  PoolOptions options;
  options.pool_size = 10 * kMiB;
  options.segment_size = 2 * kMiB;  // 5 segments
  options.backing = backing;
  return options;
}

UniqueFd dup_of(int fd) {
  return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

// Names in /dev/shm that start with `prefix`.
std::vector<std::string> shm_names(const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) names.push_back(name);
  }
  return names;
}

// A pid that is certainly dead: a child that exited and was reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(0);
  REQUIRE(::waitpid(pid, nullptr, 0) == pid);
  return pid;
}

// A block of 1000 bytes of 0xab sealed in `lease`'s segment, and views of that segment as a
// session's peers hold them: the owner's writer and a reader.
struct SealedBlock {
  std::unique_ptr<fastmd::shm::SegmentWriter> writer;
  fastmd::proto::ShmHandle handle;
  std::optional<fastmd::shm::SegmentReader> reader;
};

SealedBlock seal_block(const SegmentLease& lease) {
  SealedBlock sealed;
  auto writer = fastmd::shm::SegmentWriter::open(dup_of(lease.fd()), lease.info());
  REQUIRE(writer.ok());
  sealed.writer = std::move(*writer);
  auto block = sealed.writer->allocate(1000, 0ms);
  REQUIRE(block.ok());
  std::memset(block->data().data(), 0xab, 1000);
  sealed.handle = block->seal(1000);
  auto reader = fastmd::shm::SegmentReader::open(dup_of(lease.fd()), lease.info());
  REQUIRE(reader.ok());
  sealed.reader.emplace(std::move(*reader));
  return sealed;
}

}  // namespace

TEST_CASE("pools lease sealed segments that the owner and its peers can map", "[shm]") {
  auto pools = Pools::create(small_pool());
  REQUIRE(pools.ok());
  auto stats = pools->stats();
  CHECK(stats.segments == 5);
  CHECK(stats.bytes == 10 * kMiB);
  CHECK(stats.segments_in_use == 0);

  auto lease = pools->lease(1, ::getuid());
  REQUIRE(lease.has_value());
  const auto info = lease->info();
  CHECK(info.segment == 1);
  CHECK(info.size == 2 * kMiB);
  CHECK(info.generation == 1);
  auto checked =
      fastmd::platform::check_memory_fd(lease->fd(), fastmd::platform::kSegmentSeals, info.size);
  REQUIRE(checked.ok());
  CHECK(pools->stats().segments_in_use == 1);
  CHECK(pools->stats().bytes_in_use == 2 * kMiB);

  auto writer = fastmd::shm::SegmentWriter::open(dup_of(lease->fd()), info);
  REQUIRE(writer.ok());
  auto reader = fastmd::shm::SegmentReader::open(dup_of(lease->fd()), info);
  REQUIRE(reader.ok());
  auto block = (*writer)->allocate(5, 0ms);
  REQUIRE(block.ok());
  std::memcpy(block->data().data(), "hello", 5);
  auto view = reader->read(block->seal(5));
  REQUIRE(view.ok());
  CHECK(fastmd::proto::as_chars(*view) == "hello");
}

TEST_CASE(
    "a returned segment gets fresh zeroed memory and the next generation, and the old memory "
    "stays unchanged for its stale views",
    "[shm]") {
  auto pools = Pools::create(small_pool());
  REQUIRE(pools.ok());
  std::optional<SegmentLease> lease = pools->lease(7, ::getuid());
  REQUIRE(lease.has_value());
  const auto first = lease->info();
  // A stale view of the slot, as a crashed owner's peer would still hold.
  SealedBlock stale = seal_block(*lease);
  const auto handle = stale.handle;
  auto& stale_reader = stale.reader;
  REQUIRE(stale_reader->read(handle).ok());

  lease.reset();  // the session ended (EOF, kill -9 alike)
  auto stats = pools->stats();
  CHECK(stats.segments_in_use == 0);
  CHECK(stats.reclaims == 1);

  auto again = pools->lease(8, ::getuid());
  REQUIRE(again.has_value());
  CHECK(again->info().segment == first.segment);
  CHECK(again->info().generation == first.generation + 1);
  // The old session's bytes are gone, and its handle is refused by the new generation.
  auto fresh_reader = fastmd::shm::SegmentReader::open(dup_of(again->fd()), again->info());
  REQUIRE(fresh_reader.ok());
  auto refused = fresh_reader->read(handle);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::shm_stale_generation);
  auto new_writer = fastmd::shm::SegmentWriter::open(dup_of(again->fd()), again->info());
  REQUIRE(new_writer.ok());
  auto whole = (*new_writer)->allocate((*new_writer)->max_block(), 0ms);
  REQUIRE(whole.ok());
  for (const auto b : whole->data()) REQUIRE(b == std::byte{0});
  // The old memory stays as it was for whoever still maps it, whatever the new owner writes:
  // a Node client keeps result Buffers over a dead worker's blocks (docs/sdk-node.md).
  std::memset(whole->data().data(), 0xcd, whole->data().size());
  auto kept = stale_reader->read(handle);
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 1000);
  for (const auto b : *kept) REQUIRE(b == std::byte{0xab});
  // A release through the stale view cannot touch the new generation's blocks.
  stale_reader->release(handle);
}

TEST_CASE("an exhausted pool gives no segment, counts it, and recovers", "[shm]") {
  auto pools = Pools::create(small_pool());
  REQUIRE(pools.ok());
  std::vector<SegmentLease> leases;
  for (std::uint64_t session = 1; session <= 5; ++session) {
    auto lease = pools->lease(session, ::getuid());
    REQUIRE(lease.has_value());
    leases.push_back(std::move(*lease));
  }
  CHECK_FALSE(pools->lease(6, ::getuid()).has_value());
  CHECK(pools->stats().exhausted == 1);
  leases.erase(leases.begin() + 2);
  auto lease = pools->lease(6, ::getuid());
  REQUIRE(lease.has_value());
  CHECK(lease->info().segment == 3);
  CHECK(lease->info().generation == 2);
}

TEST_CASE("quotas: one segment per session, and a per-uid limit", "[shm]") {
  auto options = small_pool();
  options.max_segments_per_uid = 2;
  auto pools = Pools::create(options);
  REQUIRE(pools.ok());
  auto a = pools->lease(1, 1000);
  REQUIRE(a.has_value());
  CHECK_FALSE(pools->lease(1, 1000).has_value());  // same session again
  auto b = pools->lease(2, 1000);
  REQUIRE(b.has_value());
  CHECK_FALSE(pools->lease(3, 1000).has_value());  // uid 1000 holds two
  CHECK(pools->lease(4, 1001).has_value());        // another uid still gets one
  CHECK(pools->stats().quota_refused == 2);
  a.reset();
  CHECK(pools->lease(3, 1000).has_value());
}

TEST_CASE("pool options out of range are refused with a message naming the limit", "[shm]") {
  auto options = small_pool();
  options.pool_size = 5 * kMiB;
  auto too_small = Pools::create(options);
  REQUIRE_FALSE(too_small.ok());
  CHECK(too_small.error().message.find("10 to 512 MiB") != std::string::npos);
  options.pool_size = 1024 * kMiB;
  CHECK_FALSE(Pools::create(options).ok());
  options = small_pool();
  options.segment_size = 100000;
  CHECK_FALSE(Pools::create(options).ok());
  options = small_pool(PoolBacking::shm);
  options.shm_dir = "/nonexistent/fastmd-shm";
  auto no_dir = Pools::create(options);
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().message.find("/nonexistent/fastmd-shm") != std::string::npos);
  CHECK(fastmd::daemon::parse_pool_backing("memfd").ok());
  CHECK_FALSE(fastmd::daemon::parse_pool_backing("tmpfs").ok());
}

TEST_CASE("the shm backing makes named 0600 objects and removes them with the pool", "[shm]") {
  const std::string prefix =
      "fastmd-" + std::to_string(::getuid()) + "-" + std::to_string(::getpid()) + "-";
  {
    auto pools = Pools::create(small_pool(PoolBacking::shm));
    REQUIRE(pools.ok());
    const auto names = shm_names(prefix);
    CHECK(names.size() == 5);
    for (const auto& name : names) {
      struct stat st {};
      REQUIRE(::stat(("/dev/shm/" + name).c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0600);
      CHECK(st.st_uid == ::getuid());
    }
    auto lease = pools->lease(1, ::getuid());
    REQUIRE(lease.has_value());
    auto reader = fastmd::shm::SegmentReader::open(dup_of(lease->fd()), lease->info());
    CHECK(reader.ok());  // named objects cannot be sealed; they are accepted as such
  }
  CHECK(shm_names(prefix).empty());
}

TEST_CASE("stale cleanup removes only this uid's objects of dead daemons", "[shm]") {
  char dir_template[] = "/tmp/fastmd-shm-test-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::filesystem::path dir(dir_template);
  const std::string uid = std::to_string(::getuid());
  const std::string dead = std::to_string(dead_pid());
  const std::string alive = std::to_string(::getppid());
  const std::vector<std::string> files = {
      "fastmd-" + uid + "-" + dead + "-1",   // stale: removed
      "fastmd-" + uid + "-" + dead + "-2",   // stale: removed
      "fastmd-" + uid + "-" + alive + "-1",  // a live daemon's: kept
      "fastmd-" + uid + "1-" + dead + "-1",  // another uid's name: kept
      "fastmd-" + uid + "-" + dead + "-1x",  // not our shape: kept
      "fastmd-" + uid + "-" + dead,          // not our shape: kept
      "other-" + uid + "-" + dead + "-1",    // not ours at all: kept
  };
  for (const auto& name : files) std::ofstream(dir / name) << "x";
  auto removed = cleanup_stale_shm_objects(::getuid(), dir.string());
  REQUIRE(removed.ok());
  CHECK(*removed == 2);
  for (std::size_t i = 0; i < files.size(); ++i) {
    CAPTURE(files[i]);
    CHECK(std::filesystem::exists(dir / files[i]) == (i >= 2));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a daemon killed with SIGKILL leaves named segments that the next start removes",
          "[shm]") {
  // The child plays a daemon with the shm backing and dies by SIGKILL, cleaning nothing.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto pools = Pools::create(small_pool(PoolBacking::shm));
    if (!pools) ::_exit(1);
    ::raise(SIGKILL);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  const std::string prefix =
      "fastmd-" + std::to_string(::getuid()) + "-" + std::to_string(child) + "-";
  CHECK(shm_names(prefix).size() == 5);
  auto removed = cleanup_stale_shm_objects(::getuid());
  REQUIRE(removed.ok());
  CHECK(*removed >= 5);
  CHECK(shm_names(prefix).empty());
}
