// The shared-memory code against proto/vectors/shm.json, which the independent Python
// generator packs from the byte tables of PROTOCOL.md §4: the daemon's segment header, the
// owner's block headers and handles byte for byte, every reader verdict on a handle (with
// the bytes its release writes, or does not write), and the checks on a segment's fd.
#include <fcntl.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/mapping.hpp"
#include "fastmd/platform/memfd.hpp"
#include "fastmd/proto/error.hpp"
#include "fastmd/shm/segment.hpp"
#include "fastmd/shm/segment_reader.hpp"
#include "fastmd/shm/segment_writer.hpp"
#include "vector_file.hpp"

using fastmd::platform::Mapping;
using fastmd::platform::UniqueFd;
using fastmd::proto::errc_name;
using fastmd::proto::SegmentInfo;
using fastmd::proto::ShmHandle;
using fastmd::testing::from_hex;
using fastmd::testing::load_vector_file;
using namespace std::chrono_literals;
namespace shm = fastmd::shm;

namespace {

constexpr std::size_t kHeaderBytes = 64;

SegmentInfo segment_of(const rapidjson::Value& v) {
  return {v["segment"].GetUint(), v["size"].GetUint64(), v["generation"].GetUint()};
}

ShmHandle handle_of(const rapidjson::Value& v) {
  return {v["segment"].GetUint(), v["offset"].GetUint64(), v["length"].GetUint64(),
          v["generation"].GetUint()};
}

unsigned seals_of(const rapidjson::Value& names) {
  unsigned seals = 0;
  for (const auto& name : names.GetArray()) {
    const std::string seal = name.GetString();
    if (seal == "F_SEAL_SHRINK") seals |= F_SEAL_SHRINK;
    if (seal == "F_SEAL_GROW") seals |= F_SEAL_GROW;
  }
  return seals;
}

// A zeroed memfd as the daemon hands out (sealed with `seals`), with a view of its own to
// lay bytes out and look at what the code under test wrote.
struct SegmentFile {
  SegmentFile(std::uint64_t size, unsigned seals) {
    auto created = fastmd::platform::create_memfd("vector-segment", size);
    REQUIRE(created.ok());
    fd = std::move(*created);
    if (seals != 0) REQUIRE(fastmd::platform::seal_where_supported(fd.get(), seals).ok());
    auto mapped = Mapping::map(fd.get(), static_cast<std::size_t>(size), true);
    REQUIRE(mapped.ok());
    view = std::move(*mapped);
  }

  UniqueFd dup() const { return UniqueFd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0)); }

  void put(std::uint64_t offset, const std::vector<std::byte>& bytes) {
    REQUIRE(offset + bytes.size() <= view.size());
    std::memcpy(view.data() + offset, bytes.data(), bytes.size());
  }

  std::string hex_at(std::uint64_t offset, std::size_t size = kHeaderBytes) const {
    return fastmd::testing::to_hex(view.data() + offset, size);
  }

  UniqueFd fd;
  Mapping view;
};

std::string verdict(const fastmd::proto::Result<fastmd::proto::ByteView>& read) {
  return read.ok() ? "OK" : std::string(errc_name(read.error().code));
}

}  // namespace

TEST_CASE("the daemon writes the segment header of shm.json byte for byte", "[shm][vectors]") {
  rapidjson::Document doc = load_vector_file("shm.json");
  REQUIRE(doc["segment_headers"].Size() >= 3);
  for (const auto& vector : doc["segment_headers"].GetArray()) {
    INFO("vector " << vector["name"].GetString());
    std::byte out[kHeaderBytes];
    std::memset(out, 0xAA, sizeof out);  // every byte must be written, reserved ones as zero
    shm::write_segment_header(out, vector["segment"].GetUint(), vector["generation"].GetUint(),
                              vector["size"].GetUint64());
    CHECK(fastmd::testing::to_hex(out, sizeof out) == vector["hex"].GetString());
  }
}

TEST_CASE("an owner writes the block headers and handles of shm.json byte for byte",
          "[shm][vectors]") {
  rapidjson::Document doc = load_vector_file("shm.json");
  REQUIRE(doc["owner_writes"].Size() >= 5);
  for (const auto& vector : doc["owner_writes"].GetArray()) {
    INFO("vector " << vector["name"].GetString());
    const SegmentInfo info = segment_of(vector["segment"]);
    SegmentFile file(info.size, fastmd::platform::kSegmentSeals);
    auto writer = shm::SegmentWriter::open(file.dup(), info);
    REQUIRE(writer.ok());
    for (const auto& expected : vector["blocks"].GetArray()) {
      auto block = (*writer)->allocate(expected["allocate"].GetUint64(), 0ms);
      REQUIRE(block.ok());
      const std::size_t used = expected["seal"].GetUint64();
      std::memset(block->data().data(), 0x5A, used);
      const ShmHandle handle = block->seal(used);
      CHECK(handle == handle_of(expected["handle"]));
      const std::uint64_t header_offset = expected["header_offset"].GetUint64();
      CHECK(file.hex_at(header_offset) == expected["header_hex"].GetString());
      CHECK(header_offset + kHeaderBytes == handle.offset);
    }
  }
}

TEST_CASE("a reader gives every handle of shm.json its verdict and releases only good blocks",
          "[shm][vectors]") {
  rapidjson::Document doc = load_vector_file("shm.json");
  REQUIRE(doc["reads"].Size() >= 30);
  for (const auto& vector : doc["reads"].GetArray()) {
    const std::string want = vector["expect"].GetString();
    INFO("vector " << vector["name"].GetString() << " expects " << want);
    const SegmentInfo info = segment_of(vector["segment"]);
    SegmentFile file(info.size, fastmd::platform::kSegmentSeals);
    file.put(0, from_hex(vector["segment_header_hex"].GetString()));
    const std::uint64_t header_offset = vector["header_offset"].GetUint64();
    file.put(header_offset, from_hex(vector["header_hex"].GetString()));
    auto reader = shm::SegmentReader::open(file.dup(), info);
    REQUIRE(reader.ok());

    const ShmHandle handle = handle_of(vector["handle"]);
    const auto read = reader->read(handle);
    CHECK(verdict(read) == want);
    if (read.ok()) {
      // In place: the view is the mapping's bytes at the handle's offset.
      CHECK(read->size() == handle.length);
      reader->release(handle);
      CHECK(file.hex_at(header_offset) == vector["released_header_hex"].GetString());
      // Released once: a second release and a second read find it no longer sealed.
      reader->release(handle);
      CHECK(file.hex_at(header_offset) == vector["released_header_hex"].GetString());
      CHECK(verdict(reader->read(handle)) == "SHM_BAD_BLOCK");
    } else {
      reader->release(handle);
      CHECK(file.hex_at(header_offset) == vector["header_hex"].GetString());
    }
  }
}

TEST_CASE("a segment's fd and announcement are checked as shm.json says", "[shm][vectors]") {
  rapidjson::Document doc = load_vector_file("shm.json");
  REQUIRE(doc["opens"].Size() >= 8);
  for (const auto& vector : doc["opens"].GetArray()) {
    // A platform without seals cannot make the seal checks (docs/platforms.md): there the
    // vectors that differ from a valid segment only by their seals open like it.
    const bool seal_check = seals_of(vector["seals"]) != fastmd::platform::kSegmentSeals;
    const std::string want = seal_check && !fastmd::platform::capabilities().sealing
                                 ? std::string("OK")
                                 : std::string(vector["expect"].GetString());
    INFO("vector " << vector["name"].GetString() << " expects " << want);
    SegmentFile file(vector["file_size"].GetUint64(), seals_of(vector["seals"]));
    auto reader = shm::SegmentReader::open(file.dup(), segment_of(vector["segment"]));
    CHECK((reader.ok() ? std::string("OK") : std::string(errc_name(reader.error().code))) == want);
    auto writer = shm::SegmentWriter::open(file.dup(), segment_of(vector["segment"]));
    CHECK((writer.ok() ? std::string("OK") : std::string(errc_name(writer.error().code))) == want);
  }
}

TEST_CASE("the layout constants of shm.json are the code's", "[shm][vectors]") {
  rapidjson::Document doc = load_vector_file("shm.json");
  const auto& c = doc["constants"];
  CHECK(c["cache_line"].GetUint64() == shm::kCacheLine);
  CHECK(c["segment_header_bytes"].GetUint64() == sizeof(shm::SegmentHeader));
  CHECK(c["block_header_bytes"].GetUint64() == sizeof(shm::BlockHeader));
  CHECK(c["first_block_offset"].GetUint64() == shm::kFirstBlockOffset);
  CHECK(c["min_segment_size"].GetUint64() == shm::kMinSegmentSize);
  CHECK(c["layout_version"].GetUint() == shm::kLayoutVersion);
  std::uint64_t magic = 0;
  const auto block_magic = from_hex(c["block_magic_hex"].GetString());
  REQUIRE(block_magic.size() == sizeof magic);
  std::memcpy(&magic, block_magic.data(), sizeof magic);
  CHECK(magic == shm::kBlockMagic);
  const auto segment_magic = from_hex(c["segment_magic_hex"].GetString());
  REQUIRE(segment_magic.size() == sizeof magic);
  std::memcpy(&magic, segment_magic.data(), sizeof magic);
  CHECK(magic == shm::kSegmentMagic);
  const auto& states = c["states"];
  CHECK(states["free"].GetUint() == static_cast<unsigned>(shm::BlockState::free));
  CHECK(states["writing"].GetUint() == static_cast<unsigned>(shm::BlockState::writing));
  CHECK(states["sealed"].GetUint() == static_cast<unsigned>(shm::BlockState::sealed));
  CHECK(states["released"].GetUint() == static_cast<unsigned>(shm::BlockState::released));
}
