// The test cluster (see cluster.hpp).
#include "cluster.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "fastmd/platform/unix_socket.hpp"

extern char** environ;

namespace fastmd::testing {

namespace {

constexpr auto kStartupTimeout = std::chrono::seconds(10);

std::string binary(const char* name) {
  return std::string(FASTMD_BIN_DIR) + "/" + name;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  if (::posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) {
    throw std::runtime_error("cannot start " + argv[0]);
  }
}

ChildProcess::~ChildProcess() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
}

void ChildProcess::signal(int signo) const {
  if (!reaped_) ::kill(pid_, signo);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Cluster::Cluster(std::vector<std::string> daemon_flags) : daemon_flags_(std::move(daemon_flags)) {
  char pattern[] = "/tmp/fastmd-sdk-test-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  directory_ = pattern;
  socket_path_ = directory_ + "/ipcd.sock";
  start_daemon();
}

Cluster::~Cluster() {
  workers_.clear();
  daemon_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

void Cluster::start_daemon() {
  std::vector<std::string> argv{binary("fastmd-ipcd"), "--socket", socket_path_, "--log-level",
                                "warn"};
  argv.insert(argv.end(), daemon_flags_.begin(), daemon_flags_.end());
  daemon_ = std::make_unique<ChildProcess>(argv);
  const auto until = std::chrono::steady_clock::now() + kStartupTimeout;
  while (!platform::connect_unix(socket_path_)) {
    if (daemon_->wait_exit(std::chrono::milliseconds(0))) {
      throw std::runtime_error("fastmd-ipcd exited at start");
    }
    if (std::chrono::steady_clock::now() >= until) {
      throw std::runtime_error("fastmd-ipcd did not listen on " + socket_path_ + " in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Cluster::kill_daemon() {
  daemon_->signal(SIGKILL);
  daemon_->wait_exit(kStartupTimeout);
}

ChildProcess& Cluster::start_worker(const std::string& name, unsigned threads) {
  workers_.push_back(std::make_unique<ChildProcess>(
      std::vector<std::string>{binary("fastmd-test-worker"), "--socket", socket_path_, "--name",
                               name, "--threads", std::to_string(threads)}));
  return *workers_.back();
}

std::unique_ptr<ipc::Client> Cluster::client(ipc::ClientOptions options) {
  options.socket_path = socket_path_;
  auto client = ipc::Client::connect(std::move(options));
  if (!client) throw std::runtime_error(client.error().to_string());
  return std::move(*client);
}

}  // namespace fastmd::testing
