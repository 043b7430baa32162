// Crash cleanup of /dev/shm at daemon start (see memory/pools.hpp): a daemon killed with
// SIGKILL leaves its named segments behind; the next daemon of the same uid removes those
// whose daemon pid is gone. Only exact names `fastmd-<uid>-<pid>-<n>` are considered.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fastmd/platform/fd.hpp"
#include "fastmd/platform/unix_socket.hpp"
#include "memory/pools.hpp"

namespace fastmd::daemon {

namespace {

struct StaleName {
  std::uint64_t uid = 0;
  std::uint64_t pid = 0;
};

std::optional<std::uint64_t> take_number(std::string_view& text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end == text.data()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

// Parses "fastmd-<uid>-<pid>-<n>" exactly; anything else is not ours.
std::optional<StaleName> parse_name(std::string_view name) {
  constexpr std::string_view kPrefix = "fastmd-";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  StaleName parsed;
  const auto uid = take_number(name);
  if (!uid || !name.starts_with('-')) return std::nullopt;
  name.remove_prefix(1);
  const auto pid = take_number(name);
  if (!pid || !name.starts_with('-')) return std::nullopt;
  name.remove_prefix(1);
  if (!take_number(name) || !name.empty()) return std::nullopt;
  return StaleName{*uid, *pid};
}

struct CloseDir {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

bool process_alive(std::uint64_t pid) {
  if (pid == 0 || pid > static_cast<std::uint64_t>(INT32_MAX)) return false;
  // EPERM: it exists but belongs to someone else, so it is alive.
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

proto::Result<std::size_t> cleanup_stale_shm_objects(uid_t uid, const std::string& shm_dir) {
  platform::UniqueFd dir_fd(::open(shm_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return platform::system_error("open(" + shm_dir + ")", errno);
  // The listing gets its own fd: fdopendir takes it over and closedir closes it.
  platform::UniqueFd listing_fd(::dup(dir_fd.get()));
  std::unique_ptr<DIR, CloseDir> listing(::fdopendir(listing_fd.get()));
  if (!listing) return platform::system_error("fdopendir(" + shm_dir + ")", errno);
  (void)listing_fd.release();
  std::size_t removed = 0;
  while (const dirent* entry = ::readdir(listing.get())) {
    const auto name = parse_name(entry->d_name);
    if (!name || name->uid != uid) continue;
    struct stat st {};
    if (::fstatat(dir_fd.get(), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != uid) continue;
    if (name->pid == static_cast<std::uint64_t>(::getpid()) || process_alive(name->pid)) continue;
    if (::unlinkat(dir_fd.get(), entry->d_name, 0) == 0) ++removed;
  }
  return removed;
}

}  // namespace fastmd::daemon
