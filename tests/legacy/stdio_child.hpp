// stdio_child.hpp — driving an NDJSON peer over pipes, as a legacy client drives
// `fastmd-worker-md --stdio`: LinePipes writes lines to the peer's input and reads lines from
// its output with bounded waits; StdioChild is such a peer in a child process (killed with
// SIGKILL and reaped by the destructor if it still runs; its stderr is inherited, so its
// diagnostics show in the test log).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastmd/platform/fd.hpp"

namespace fastmd::test {

/// The test's ends of two pipes: the peer's input (written here) and output (read here).
class LinePipes {
 public:
  /// The peer's ends, for an in-process server: it reads `input`, writes `output`.
  struct PeerEnds {
    platform::UniqueFd input;
    platform::UniqueFd output;
  };

  /// Two fresh pipes; the peer's ends are returned through `peer`.
  static LinePipes make(PeerEnds& peer);

  /// Writes all of `bytes` (waiting at most 60 s for room); false when the peer closed its input.
  bool write(std::string_view bytes);
  /// Closes the peer's input (end of input).
  void close_input() { input_.reset(); }

  /// The next line of the peer's output without its '\n'; std::nullopt at end of output or
  /// when no whole line arrived within `timeout`.
  std::optional<std::string> read_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// True when the peer closed its output (EOF within `timeout`, nothing else pending).
  bool output_ended(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  platform::UniqueFd input_;   // written here
  platform::UniqueFd output_;  // read here
  std::string buffered_;       // read, not yet returned
};

class StdioChild {
 public:
  /// Starts FASTMD_BIN_DIR/<program> with `args`, its stdin/stdout on pipes() (or, without
  /// `with_pipes`, inherited); throws std::runtime_error when it cannot.
  StdioChild(const std::string& program, const std::vector<std::string>& args,
             bool with_pipes = true);
  ~StdioChild();
  StdioChild(const StdioChild&) = delete;
  StdioChild& operator=(const StdioChild&) = delete;

  LinePipes& pipes() { return pipes_; }

  /// Waits at most `timeout` for the child to exit; its exit code (128 + n when killed by
  /// signal n), or std::nullopt while it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  LinePipes pipes_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace fastmd::test
