// Every worker pool of the daemon (see supervisor.hpp).
#include "pools/supervisor.hpp"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>
#include <asio/post.hpp>

namespace fastmd::daemon {

Supervisor::Supervisor(asio::io_context& io, Broker& broker, std::chrono::milliseconds stop_bound)
    : io_(io), broker_(broker), tick_timer_(io), stop_bound_(stop_bound) {}

Supervisor::~Supervisor() {
  tick_timer_.cancel();
}

void Supervisor::start(const std::vector<PoolSpec>& specs) {
  for (const PoolSpec& spec : specs) {
    auto pool = std::make_unique<Pool>(io_, broker_, spec);
    pool->start();
    pools_.emplace(spec.name, std::move(pool));
  }
  if (!pools_.empty()) schedule_tick();
}

void Supervisor::apply(const std::vector<PoolSpec>& specs) {
  if (stopping_) return;
  std::set<std::string> configured;
  for (const PoolSpec& spec : specs) {
    configured.insert(spec.name);
    auto it = pools_.find(spec.name);
    if (it == pools_.end()) {
      spdlog::info("SIGHUP: adding pool '{}'", spec.name);
      auto pool = std::make_unique<Pool>(io_, broker_, spec);
      pool->start();
      pools_.emplace(spec.name, std::move(pool));
    } else if (!(it->second->spec() == spec)) {
      spdlog::info("SIGHUP: changing pool '{}'", spec.name);
      it->second->update(spec);
    }
  }
  std::vector<std::string> removed;
  for (const auto& [name, pool] : pools_) {
    if (!configured.contains(name)) removed.push_back(name);
  }
  for (const std::string& name : removed) retire(name);
  schedule_tick();
}

void Supervisor::retire(const std::string& name) {
  auto it = pools_.find(name);
  std::unique_ptr<Pool> pool = std::move(it->second);
  pools_.erase(it);
  spdlog::info("SIGHUP: removing pool '{}': stopping its {} workers", name, pool->live_workers());
  Pool* draining = pool.get();
  retiring_.push_back(std::move(pool));
  draining->drain(stop_bound_, [this, draining] {
    // Destroyed on the next turn of the loop, not inside its own callback.
    asio::post(io_, [this, draining] {
      std::erase_if(retiring_, [&](const auto& each) { return each.get() == draining; });
    });
  });
}

void Supervisor::stop(std::chrono::milliseconds bound, std::function<void()> on_done) {
  stopping_ = true;
  tick_timer_.cancel();
  auto left = std::make_shared<std::size_t>(pools_.size() + retiring_.size());
  auto done = std::make_shared<std::function<void()>>(std::move(on_done));
  const auto one_done = [left, done] {
    if (--*left == 0 && *done) std::exchange(*done, nullptr)();
  };
  if (*left == 0) {
    if (*done) std::exchange(*done, nullptr)();
    return;
  }
  ++*left;  // held while the drains start, so none finishes the whole stop early
  for (auto& [name, pool] : pools_) pool->drain(bound, one_done);
  for (auto& pool : retiring_) pool->drain(bound, one_done);
  one_done();
}

void Supervisor::schedule_tick() {
  if (stopping_) return;
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this](asio::error_code error) {
    if (error) return;
    tick();
    schedule_tick();
  });
}

void Supervisor::tick() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [name, pool] : pools_) {
    pool->refresh();
    pool->scale(now);
  }
}

std::vector<std::string> Supervisor::pool_methods() const {
  std::set<std::string> methods;
  for (const auto& [name, pool] : pools_) {
    pool->refresh();
    methods.insert(pool->methods().begin(), pool->methods().end());
  }
  return {methods.begin(), methods.end()};
}

bool Supervisor::learning_methods() const {
  return std::any_of(pools_.begin(), pools_.end(), [](const auto& entry) {
    entry.second->refresh();
    return entry.second->learning_methods();
  });
}

bool Supervisor::request_worker(const std::string& method) {
  for (auto& [name, pool] : pools_) {
    pool->refresh();
    const auto& methods = pool->methods();
    if (std::find(methods.begin(), methods.end(), method) == methods.end()) continue;
    if (pool->request_worker()) return true;
  }
  return false;
}

void Supervisor::write_status(proto::Packer& packer) const {
  std::vector<const Pool*> all;
  for (const auto& [name, pool] : pools_) all.push_back(pool.get());
  for (const auto& pool : retiring_) all.push_back(pool.get());
  // First how many fit the budget, then those, written for real.
  proto::ByteBuffer trial;
  proto::ByteSink sink{trial};
  proto::Packer trial_packer(sink);
  std::uint32_t count = 0;
  for (const Pool* pool : all) {
    pool->write_status(trial_packer);
    if (trial.size() > kStatusBudget) break;
    ++count;
  }
  packer.pack_array(count);
  for (std::uint32_t i = 0; i < count; ++i) all[i]->write_status(packer);
}

}  // namespace fastmd::daemon
