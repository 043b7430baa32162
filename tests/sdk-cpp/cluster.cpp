// The test cluster (see cluster.hpp).
#include "cluster.hpp"

#include <fstream>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

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

Cluster::Cluster(std::vector<std::string> daemon_flags)
    : socket_path_(directory_.path() + "/ipcd.sock"), daemon_flags_(std::move(daemon_flags)) {
  start_daemon();
}

Cluster::~Cluster() {
  workers_.clear();
  daemon_.reset();
}

void Cluster::start_daemon() {
  std::vector<std::string> flags{"--log-level", "warn"};
  flags.insert(flags.end(), daemon_flags_.begin(), daemon_flags_.end());
  daemon_.reset();
  daemon_ = std::make_unique<test::DaemonProcess>(flags, socket_path_);
}

void Cluster::kill_daemon() {
  daemon_->stop(SIGKILL, kStartupTimeout);
}

ChildProcess& Cluster::start_worker(const std::string& name, unsigned threads,
                                    std::chrono::microseconds spin, std::uint32_t ring_bytes) {
  workers_.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
      binary("fastmd-test-worker"), "--socket", socket_path_, "--name", name, "--threads",
      std::to_string(threads), "--spin-us", std::to_string(spin.count()), "--ring-bytes",
      std::to_string(ring_bytes)}));
  return *workers_.back();
}

std::size_t mappings_named(pid_t pid, std::string_view name) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::size_t count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find(name) != std::string::npos) ++count;
  }
  return count;
}

bool catches_signal(pid_t pid, int signo) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("SigCgt:", 0) == 0) {
      const unsigned long long caught = std::stoull(line.substr(7), nullptr, 16);
      return (caught >> (signo - 1)) & 1;
    }
  }
  return false;
}

std::unique_ptr<ipc::Client> Cluster::client(ipc::ClientOptions options) {
  options.socket_path = socket_path_;
  auto client = ipc::Client::connect(std::move(options));
  if (!client) throw std::runtime_error(client.error().to_string());
  return std::move(*client);
}

}  // namespace fastmd::testing
