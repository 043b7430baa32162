// fastmd/platform/capabilities.hpp — what the platform layer this binary was built with can do
// (FASTMD_PLATFORM=linux or posix, docs/platforms.md): the memory backing, whether it seals,
// how a peer's exit is seen, where credentials come from. Callers branch on these facts
// instead of on the OS, and `fastmd-ipcctl status` shows them so a degradation is visible.
#pragma once

namespace fastmd::platform {

struct Capabilities {
  const char* name;            // "linux" or "posix": the implementation directory built
  const char* memory_backing;  // how create_memfd() makes a memory object
  bool sealing;                // add_seals() works and check_memory_fd() verifies seals
  const char* poller;          // what Poller (poller.hpp) waits with: "epoll", "kqueue" or "poll"
  const char* liveness;        // how a peer's exit is seen: "pidfd", "kqueue" or "eof"
  bool exit_watcher;           // open_exit_watcher() gives an fd (else liveness is EOF)
  const char* credentials;     // where peer_credentials()/peer_groups() come from
  bool peer_pid;               // peer_credentials() knows the peer's pid (else pid is 0)
  bool peer_groups;            // peer_groups() lists supplementary groups
  bool prefault;               // populate() pre-faults memory in one call
  bool huge_pages;             // advise_huge_pages() works (the daemon's --huge-pages)
  bool process_info;           // own_start_time() and own_executable_path() answer
  bool memory_limits;          // available_memory() answers (memory_limits.hpp)
  bool resizable_objects;      // a memory object's size can change after it is first set
                               // (macOS shm objects: ftruncate once only)
};

/// The capabilities of the implementation linked into this binary (constant for its lifetime).
const Capabilities& capabilities();

}  // namespace fastmd::platform
