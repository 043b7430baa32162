// A real fastmd-ipcd for tests (see daemon_process.hpp).
#include "daemon_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace fastmd::test {

namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

platform::UniqueFd bind_notify_socket(const std::string& path) {
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw std::runtime_error(errno_text("socket"));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) throw std::runtime_error("path too long: " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    throw std::runtime_error(errno_text("bind " + path));
  }
  return fd;
}

// The test's environment minus what would change where the daemon listens or reports.
std::vector<std::string> child_environment(const std::string& notify_path) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with("NOTIFY_SOCKET=") || text.starts_with("LISTEN_") ||
        text.starts_with("WATCHDOG_") || text.starts_with("FASTMD_IPC_SOCKET=")) {
      continue;
    }
    env.emplace_back(text);
  }
  env.push_back("NOTIFY_SOCKET=" + notify_path);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts `args` with stdout and stderr appended to `output_path`.
pid_t spawn(std::vector<std::string> args, std::vector<std::string> env,
            const std::string& output_path) {
  auto argv = pointers(args);
  auto envp = pointers(env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(rc));
  return pid;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandResult run_program(const std::string& program, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout) {
  TempDir dir;
  const std::string output_path = dir.path() + "/output";
  std::vector<std::string> argv{std::string(FASTMD_BIN_DIR) + "/" + program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
  const pid_t pid = spawn(argv, env, output_path);

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      result.exit_code = decode_status(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  result.output = read_file(output_path);
  return result;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "fastmd-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error(errno_text("mkdtemp"));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

DaemonProcess::DaemonProcess(std::vector<std::string> extra_args, std::string socket_path)
    : socket_path_(socket_path.empty() ? dir_.path() + "/ipcd.sock" : std::move(socket_path)),
      log_path_(dir_.path() + "/ipcd.log") {
  const std::string notify_path = dir_.path() + "/notify.sock";
  notify_socket_ = bind_notify_socket(notify_path);

  std::vector<std::string> args{std::string(FASTMD_BIN_DIR) + "/fastmd-ipcd", "--socket",
                                socket_path_};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = spawn(args, child_environment(notify_path), log_path_);
  if (!wait_for_notification("READY=1", 10s)) {
    const std::string why = wait_exit(0ms) ? "exited" : "did not report READY=1";
    throw std::runtime_error("fastmd-ipcd " + why + "; its log:\n" + log());
  }
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::optional<int> DaemonProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  ::kill(pid_, signal);
  return wait_exit(timeout);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = decode_status(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

std::size_t DaemonProcess::open_fds() const {
  std::size_t count = 0;
  std::error_code error;
  for (auto it =
           std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

std::size_t DaemonProcess::wait_open_fds(std::size_t expected,
                                         std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t count = open_fds();
  while (count != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    count = open_fds();
  }
  return count;
}

std::string DaemonProcess::log() const {
  return read_file(log_path_);
}

bool DaemonProcess::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (log().find(text) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

bool DaemonProcess::wait_for_notification(const std::string& text,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (auto it = notifications_.begin(); it != notifications_.end(); ++it) {
      if (it->find(text) != std::string::npos) {
        notifications_.erase(it);
        return true;
      }
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd readable{notify_socket_.get(), POLLIN, 0};
    // Short slices, so a daemon that exits early is noticed.
    if (::poll(&readable, 1, static_cast<int>(std::min<long>(left.count(), 50))) > 0) {
      char datagram[4096];
      const ssize_t n = ::recv(notify_socket_.get(), datagram, sizeof(datagram), 0);
      if (n > 0) notifications_.emplace_back(datagram, static_cast<std::size_t>(n));
    } else if (wait_exit(0ms)) {
      return false;
    }
  }
}

void DaemonProcess::set_fd_limit(rlim_t limit) {
  const rlimit value{limit, limit};
  if (::prlimit(pid_, RLIMIT_NOFILE, &value, nullptr) != 0) {
    throw std::runtime_error(errno_text("prlimit"));
  }
}

}  // namespace fastmd::test
