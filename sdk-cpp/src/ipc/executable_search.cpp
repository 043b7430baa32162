// The executable search rule (see executable_search.hpp).
#include "executable_search.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "fastmd/platform/process_info.hpp"

namespace fastmd::ipc::detail {

namespace {

struct Place {
  std::string dir;
  std::string_view why;
};

bool is_executable_file(const std::string& file) {
  struct stat info {};
  return ::access(file.c_str(), X_OK) == 0 && ::stat(file.c_str(), &info) == 0 &&
         S_ISREG(info.st_mode);
}

std::vector<Place> search_places(const std::vector<std::string>& caller_dirs) {
  std::vector<Place> places;
  const auto add = [&places](std::string dir, std::string_view why) {
    if (dir.empty()) return;
    for (const Place& place : places) {
      if (place.dir == dir) return;
    }
    places.push_back({std::move(dir), why});
  };
  if (const char* bin_dir = std::getenv("FASTMD_BIN_DIR")) add(bin_dir, "FASTMD_BIN_DIR");
  for (const std::string& dir : caller_dirs) add(dir, "next to the caller");
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest = path;
    while (!rest.empty()) {
      const std::size_t colon = rest.find(':');
      add(std::string(rest.substr(0, colon)), "PATH");
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    }
  }
  add("/usr/local/sbin", "sbin");
  add("/usr/sbin", "sbin");
  return places;
}

// "FASTMD_BIN_DIR: not set; PATH: /usr/bin, /bin; sbin: /usr/local/sbin, /usr/sbin".
std::string describe(const std::vector<Place>& places) {
  std::string out = std::getenv("FASTMD_BIN_DIR") ? "" : "FASTMD_BIN_DIR: not set";
  std::string_view last;
  for (const Place& place : places) {
    if (place.why == last) {
      out += ", " + place.dir;
      continue;
    }
    out += (out.empty() ? "" : "; ") + std::string(place.why) + ": " + place.dir;
    last = place.why;
  }
  return out;
}

}  // namespace

std::string own_executable_dir() {
  const std::string exe = platform::own_executable_path();
  return exe.empty() ? std::string{} : std::filesystem::path(exe).parent_path().string();
}

proto::Result<std::string> find_executable(std::string_view name,
                                           const std::vector<std::string>& caller_dirs) {
  const std::vector<Place> places = search_places(caller_dirs);
  for (const Place& place : places) {
    std::string file = place.dir + "/" + std::string(name);
    if (is_executable_file(file)) return file;
  }
  return proto::Error{
      proto::Errc::daemon_unreachable,
      std::string(name) + " was not found. Looked in " + describe(places) +
          ". To get it: install the Debian package fastmd-ipc (apt install fastmd-ipc), or build "
          "fastmd-ipc from source and put the directory holding it on PATH or in FASTMD_BIN_DIR"};
}

}  // namespace fastmd::ipc::detail
