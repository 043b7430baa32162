// stdio_child.cpp — pipes with bounded line reads and writes, and posix_spawn onto them.
#include "stdio_child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace fastmd::test {

namespace {

using Clock = std::chrono::steady_clock;

std::pair<platform::UniqueFd, platform::UniqueFd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  return {platform::UniqueFd(fds[0]), platform::UniqueFd(fds[1])};
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

LinePipes LinePipes::make(PeerEnds& peer) {
  // Writing to a peer that has gone must fail with EPIPE, not kill the test.
  std::signal(SIGPIPE, SIG_IGN);
  auto [input_read, input_write] = make_pipe();
  auto [output_read, output_write] = make_pipe();
  peer.input = std::move(input_read);
  peer.output = std::move(output_write);
  LinePipes pipes;
  pipes.input_ = std::move(input_write);
  pipes.output_ = std::move(output_read);
  ::fcntl(pipes.input_.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(pipes.output_.get(), F_SETFL, O_NONBLOCK);
  return pipes;
}

bool LinePipes::write(std::string_view bytes) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!bytes.empty()) {
    const ssize_t wrote = ::write(input_.get(), bytes.data(), bytes.size());
    if (wrote > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(wrote));
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && errno != EAGAIN) return false;  // EPIPE: the peer closed its input
    pollfd pfd{input_.get(), POLLOUT, 0};
    if (::poll(&pfd, 1, remaining_ms(deadline)) == 0) return false;
  }
  return true;
}

std::optional<std::string> LinePipes::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t scanned = 0;
  for (;;) {
    const std::size_t newline = buffered_.find('\n', scanned);
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    scanned = buffered_.size();
    char chunk[65536];
    const ssize_t got = ::read(output_.get(), chunk, sizeof chunk);
    if (got > 0) {
      buffered_.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    if (got == 0) return std::nullopt;  // end of output
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return std::nullopt;
    pollfd pfd{output_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, remaining_ms(deadline)) == 0) return std::nullopt;
  }
}

bool LinePipes::output_ended(std::chrono::milliseconds timeout) {
  if (!buffered_.empty()) return false;
  pollfd pfd{output_.get(), POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return false;
  char byte;
  return ::read(output_.get(), &byte, 1) == 0;
}

StdioChild::StdioChild(const std::string& program, const std::vector<std::string>& args,
                       bool with_pipes) {
  LinePipes::PeerEnds child;
  if (with_pipes) pipes_ = LinePipes::make(child);

  const std::string path = std::string(FASTMD_BIN_DIR) + "/" + program;
  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (with_pipes) {
    posix_spawn_file_actions_adddup2(&actions, child.input.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, child.output.get(), STDOUT_FILENO);
  }
  const int spawned = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    throw std::runtime_error("cannot start " + path + ": " + std::strerror(spawned));
  }
}

StdioChild::~StdioChild() {
  if (!wait_exit(std::chrono::milliseconds(0))) {
    ::kill(pid_, SIGKILL);
    (void)wait_exit(std::chrono::seconds(10));
  }
}

std::optional<int> StdioChild::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!exit_code_) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if ((done < 0 && errno != EINTR) || Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return exit_code_;
}

}  // namespace fastmd::test
