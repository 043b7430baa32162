// child.hpp — a process the benchmark starts (the daemon, a worker), owned like any other
// resource: stopped (SIGTERM, then SIGKILL after a bounded wait) and reaped when it goes out
// of scope. Optionally with its stdin/stdout on pipes (the legacy NDJSON worker).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fastmd/platform/fd.hpp"

extern char** environ;

namespace fastmd::bench {

class Child {
 public:
  /// Starts `argv`; with `piped`, its stdin and stdout are pipes (to_child(), from_child()).
  /// Its stderr stays the benchmark's, so its complaints show on the terminal.
  static Child spawn(const std::vector<std::string>& argv, bool piped = false) {
    Child child;
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (piped) {
      if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return child;
      ::posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
      ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    }
    pid_t pid = -1;
    if (::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0)
      child.pid_ = pid;
    ::posix_spawn_file_actions_destroy(&actions);
    if (piped) {
      platform::UniqueFd child_in(in[0]), child_out(out[1]);  // the child's ends: ours close
      child.to_child_.reset(in[1]);
      child.from_child_.reset(out[0]);
    }
    return child;
  }

  Child() = default;
  Child(Child&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        to_child_(std::move(other.to_child_)),
        from_child_(std::move(other.from_child_)) {}
  Child& operator=(Child&& other) noexcept {
    if (this != &other) {
      stop();
      pid_ = std::exchange(other.pid_, -1);
      to_child_ = std::move(other.to_child_);
      from_child_ = std::move(other.from_child_);
    }
    return *this;
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int to_child() const { return to_child_.get(); }
  int from_child() const { return from_child_.get(); }

  /// Closes its stdin, asks it to stop, and reaps it; SIGKILL when it takes over 2 s.
  void stop() {
    to_child_.reset();
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    from_child_.reset();
  }

 private:
  pid_t pid_ = -1;
  platform::UniqueFd to_child_;
  platform::UniqueFd from_child_;
};

}  // namespace fastmd::bench
