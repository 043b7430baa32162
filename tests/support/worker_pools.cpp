// Fixtures for worker pool tests (see worker_pools.hpp).
#include "worker_pools.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "fastmd/proto/codec.hpp"
#include "raw_peer.hpp"
#include "worker_load_status.hpp"

namespace fastmd::test {

namespace {

const msgpack::object* field(const msgpack::object& map, std::string_view key) {
  return detail::member(map, key);
}

std::string text(const msgpack::object& map, std::string_view key) {
  const msgpack::object* value = field(map, key);
  if (value == nullptr || value->type != msgpack::type::STR) return "";
  return std::string(value->via.str.ptr, value->via.str.size);
}

std::uint64_t number(const msgpack::object& map, std::string_view key) {
  const msgpack::object* value = field(map, key);
  if (value == nullptr || value->type != msgpack::type::POSITIVE_INTEGER) return 0;
  return value->via.u64;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::vector<std::string> worker_md_command(unsigned concurrency) {
  return {std::string(FASTMD_BIN_DIR) + "/fastmd-worker-md", "--concurrency",
          std::to_string(concurrency)};
}

std::vector<std::string> silent_worker_command(const std::string& name) {
  return {std::string(FASTMD_BIN_DIR) + "/fastmd-test-hostile-worker", "--answer", "code-0",
          "--name", name};
}

std::string pool_table(const std::string& name, const std::vector<std::string>& command,
                       const std::string& extra) {
  std::string argv;
  for (const std::string& arg : command) argv += (argv.empty() ? "" : ", ") + quoted(arg);
  return "[[pool]]\nname = " + quoted(name) + "\ncommand = [" + argv + "]\n" + extra;
}

std::size_t PoolView::ready_workers() const {
  return static_cast<std::size_t>(std::count_if(workers.begin(), workers.end(),
                                                [](const auto& w) { return w.state == "ready"; }));
}

std::vector<pid_t> PoolView::pids() const {
  std::vector<pid_t> out;
  for (const auto& worker : workers) out.push_back(worker.pid);
  return out;
}

std::vector<PoolView> worker_pools(const std::string& socket_path) {
  RawPeer observer = RawPeer::connect(socket_path);
  const Received welcome = observer.hello(observer_hello());
  if (!welcome.message.is_response() || welcome.message.error) {
    throw std::runtime_error("the daemon refused the observer's hello");
  }
  const Received reply = observer.status();
  proto::Decoder decoder;
  auto message = decoder.decode(reply.body);
  if (!message || !message->is_response() || message->error) {
    throw std::runtime_error("ipc.status failed");
  }
  auto root = decoder.unpack(message->payload);
  if (!root) throw std::runtime_error("ipc.status result does not decode");
  std::vector<PoolView> out;
  const msgpack::object* pools = field(*root, "worker_pools");
  if (pools == nullptr || pools->type != msgpack::type::ARRAY) return out;
  for (std::uint32_t i = 0; i < pools->via.array.size; ++i) {
    const msgpack::object& pool = pools->via.array.ptr[i];
    PoolView view;
    view.name = text(pool, "name");
    view.state = text(pool, "state");
    view.wanted = number(pool, "wanted");
    view.restarts = number(pool, "restarts");
    view.recent_failures = number(pool, "recent_failures");
    view.last_exit = text(pool, "last_exit");
    if (const auto* methods = field(pool, "methods");
        methods && methods->type == msgpack::type::ARRAY) {
      for (std::uint32_t m = 0; m < methods->via.array.size; ++m) {
        const auto& name = methods->via.array.ptr[m];
        if (name.type == msgpack::type::STR)
          view.methods.emplace_back(name.via.str.ptr, name.via.str.size);
      }
    }
    if (const auto* workers = field(pool, "workers");
        workers && workers->type == msgpack::type::ARRAY) {
      for (std::uint32_t w = 0; w < workers->via.array.size; ++w) {
        const auto& worker = workers->via.array.ptr[w];
        view.workers.push_back({static_cast<pid_t>(number(worker, "pid")), text(worker, "state"),
                                number(worker, "session")});
      }
    }
    out.push_back(std::move(view));
  }
  return out;
}

std::optional<PoolView> wait_for_pool(const std::string& socket_path, const std::string& name,
                                      const std::function<bool(const PoolView&)>& done,
                                      std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  std::optional<PoolView> last;
  for (;;) {
    for (PoolView& pool : worker_pools(socket_path)) {
      if (pool.name == name) last = std::move(pool);
    }
    if ((last && done(*last)) || std::chrono::steady_clock::now() >= give_up) return last;
    std::this_thread::sleep_for(20ms);
  }
}

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  // A zombie (exited, not yet reaped by its parent) is gone for our purposes.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string contents;
  std::getline(stat, contents);
  const auto close = contents.rfind(')');
  return close != std::string::npos && close + 2 < contents.size() && contents[close + 2] == 'Z';
}

}  // namespace fastmd::test
