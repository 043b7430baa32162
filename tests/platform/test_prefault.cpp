// Pre-faulting (fastmd/platform/prefault.hpp): populate() brings every page of memory of the
// caller's own in with one call where the platform has the call, and never changes what the
// memory holds. Residency is read with mincore().
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "fastmd/platform/capabilities.hpp"
#include "fastmd/platform/prefault.hpp"

using namespace fastmd::platform;

namespace {

// Fresh anonymous memory, unmapped when it goes: no page of it is resident yet.
class FreshPages {
 public:
  explicit FreshPages(std::size_t pages) : size_(pages * page_size()) {
    void* data = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(data != MAP_FAILED);
    data_ = static_cast<std::byte*>(data);
  }
  ~FreshPages() { ::munmap(data_, size_); }
  FreshPages(const FreshPages&) = delete;
  FreshPages& operator=(const FreshPages&) = delete;

  std::span<std::byte> bytes() const { return {data_, size_}; }

  std::size_t resident_pages() const {
    std::vector<unsigned char> resident(size_ / page_size());
    REQUIRE(::mincore(data_, size_, resident.data()) == 0);
    std::size_t count = 0;
    for (unsigned char page : resident) count += page & 1;
    return count;
  }

  static std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

 private:
  std::size_t size_;
  std::byte* data_;
};

}  // namespace

TEST_CASE("populating memory of one's own brings every page in at once, where the platform can") {
  FreshPages memory(64);
  REQUIRE(memory.resident_pages() == 0);
  const bool populated = populate(memory.bytes(), PopulateFor::write);
  CHECK(populated == capabilities().prefault);
  CHECK(memory.resident_pages() == (populated ? 64u : 0u));
}

TEST_CASE("populating memory keeps the bytes already written to it") {
  FreshPages memory(16);
  const std::span<std::byte> bytes = memory.bytes();
  std::memset(bytes.data(), 0x5a, FreshPages::page_size());  // the first page only
  (void)populate(bytes, PopulateFor::write);
  CHECK(bytes[0] == std::byte{0x5a});
  CHECK(bytes[FreshPages::page_size() - 1] == std::byte{0x5a});
  CHECK(bytes[FreshPages::page_size()] == std::byte{0});
  CHECK(bytes[bytes.size() - 1] == std::byte{0});
}
