// The bindings' way into the Client (src/ipc/client_core.hpp): a call whose payload writes
// itself where it travels, answered with the payload resolved rather than a Reply — what the
// Node addon needs to keep no policy of its own. The payload is written again when the call is
// re-sent, and every outcome (answer or error) reaches the handler once.
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>

#include "client_core.hpp"
#include "cluster.hpp"

using namespace std::chrono_literals;
using fastmd::ipc::detail::Answer;
using fastmd::ipc::detail::PayloadPath;
using fastmd::proto::Errc;

namespace {

// A payload that, like a JS string, knows only bounds of its size until it is written, writes a
// terminator after itself, and counts how often it was written.
class CountingText final : public fastmd::ipc::detail::PayloadSource {
 public:
  explicit CountingText(std::string text) : text_(std::move(text)) {}
  std::optional<fastmd::proto::ByteView> bytes() const override { return std::nullopt; }
  std::size_t min_size() const override { return text_.size(); }
  std::size_t max_size() const override { return 3 * text_.size(); }
  std::size_t exact_size() const override { return text_.size(); }
  std::size_t room_for(std::size_t size) const override { return size + 1; }
  std::size_t write_to(std::span<std::byte> out) const override {
    ++writes;
    std::memcpy(out.data(), text_.data(), text_.size());
    out[text_.size()] = std::byte{0};
    return text_.size();
  }
  mutable std::atomic<int> writes{0};

 private:
  std::string text_;
};

struct Outcome {
  std::mutex mutex;
  std::map<PayloadPath, int> paths;
  int answered = 0;
  int failed = 0;
  std::string first_failure;
  bool bytes_wrong = false;
};

fastmd::ipc::detail::AnswerHandler recorder(Outcome& outcome, std::string expected) {
  return [&outcome, expected](fastmd::proto::Result<Answer*> answer) {
    std::lock_guard lock(outcome.mutex);
    if (!answer) {
      ++outcome.failed;
      if (outcome.first_failure.empty()) outcome.first_failure = answer.error().to_string();
      return;
    }
    ++outcome.answered;
    ++outcome.paths[(*answer)->payload.path];
    if (fastmd::proto::as_chars((*answer)->payload.bytes()) != expected) outcome.bytes_wrong = true;
  };
}

// Waits until `calls` outcomes arrived (a call leaves in_flight() before its handler has run).
bool wait_for_outcomes(Outcome& outcome, int calls, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard lock(outcome.mutex);
      if (outcome.answered + outcome.failed >= calls) return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

}  // namespace

TEST_CASE(
    "a binding's call writes its payload where it travels and gets the answer resolved, by "
    "every path") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("echo", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, 10s));
  fastmd::ipc::detail::set_attached_view(*client, fastmd::shm::AttachedView::private_copy);

  Outcome outcome;
  const std::vector<std::string> texts = {
      "small",                            // inline (written into scratch first)
      std::string(200 * 1024, 's'),       // the segment
      std::string(12 * 1024 * 1024, 'o')  // larger than the segment: a one-off memfd
  };
  std::vector<std::shared_ptr<CountingText>> payloads;
  for (const std::string& text : texts) {
    payloads.push_back(std::make_shared<CountingText>(text));
    fastmd::ipc::detail::start_call(*client, "echo", payloads.back(), {}, recorder(outcome, text));
  }
  REQUIRE(wait_for_outcomes(outcome, 3, 30s));
  std::lock_guard lock(outcome.mutex);
  INFO(outcome.first_failure);
  CHECK(outcome.answered == 3);
  CHECK_FALSE(outcome.bytes_wrong);
  CHECK(outcome.paths[PayloadPath::inline_frame] == 1);
  CHECK(outcome.paths[PayloadPath::segment_block] == 1);
  CHECK(outcome.paths[PayloadPath::oneoff_memfd] == 1);
  for (const auto& payload : payloads) CHECK(payload->writes.load() == 1);
  // The client counted each path once, both ways (Node's transport.stats).
  const fastmd::ipc::detail::Traffic traffic = fastmd::ipc::detail::traffic(*client);
  for (const auto* counts : {&traffic.sent, &traffic.received}) {
    CHECK(counts->inline_frames == 1);
    CHECK(counts->segment_blocks == 1);
    CHECK(counts->oneoff_memfds == 1);
  }
}

TEST_CASE(
    "a binding lists each worker once, with its pid, its segment and this client's calls on it") {
  fastmd::testing::Cluster cluster;
  auto& first = cluster.start_worker("first", 1);
  auto& second = cluster.start_worker("second", 1);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, 10s));

  // Four calls that each sleep 300 ms: two on each worker while they run.
  Outcome outcome;
  for (int i = 0; i < 4; ++i) {
    fastmd::ipc::detail::start_call(*client, "sleep", std::make_shared<CountingText>("300"), {},
                                    recorder(outcome, "300"));
  }
  std::vector<fastmd::ipc::detail::WorkerInfo> listed = fastmd::ipc::detail::workers(*client);
  REQUIRE(listed.size() == 2);
  std::sort(listed.begin(), listed.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  CHECK(listed[0].name == "first");
  CHECK(listed[0].pid == static_cast<std::uint32_t>(first.pid()));
  CHECK(listed[1].name == "second");
  CHECK(listed[1].pid == static_cast<std::uint32_t>(second.pid()));
  for (const auto& worker : listed) {
    CHECK(worker.segment != 0);
    CHECK(worker.outstanding == 2);
  }
  REQUIRE(wait_for_outcomes(outcome, 4, 10s));
  for (const auto& worker : fastmd::ipc::detail::workers(*client)) CHECK(worker.outstanding == 0);
}

TEST_CASE("a binding's call whose worker is killed is written again for the survivor") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("survivor", 1);
  auto& victim = cluster.start_worker("victim", 1);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, 10s));

  // Each call sleeps 10 ms in its worker (one handler thread each), so the victim holds a
  // queue of them when it is killed.
  constexpr int kCalls = 40;
  Outcome outcome;
  const std::string text = "10";
  std::vector<std::shared_ptr<CountingText>> payloads;
  for (int i = 0; i < kCalls; ++i) {
    payloads.push_back(std::make_shared<CountingText>(text));
    fastmd::ipc::detail::start_call(*client, "sleep", payloads.back(), {}, recorder(outcome, text));
  }
  std::this_thread::sleep_for(30ms);
  victim.signal(SIGKILL);
  REQUIRE(wait_for_outcomes(outcome, kCalls, 30s));
  std::lock_guard lock(outcome.mutex);
  INFO(outcome.first_failure);
  CHECK(outcome.answered == kCalls);
  CHECK(outcome.failed == 0);
  CHECK_FALSE(outcome.bytes_wrong);
  int written_again = 0;
  for (const auto& payload : payloads) written_again += payload->writes.load() > 1 ? 1 : 0;
  // The calls queued at the victim were re-sent, each writing its payload anew.
  INFO(written_again << " payloads were written again for a re-send");
  CHECK(written_again >= 1);
}

TEST_CASE("a binding's call gets its error through the same handler") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("sleeper", 1);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(1, 10s));
  Outcome outcome;
  fastmd::ipc::CallOptions options;
  options.timeout = 50ms;
  fastmd::ipc::detail::start_call(*client, "sleep", std::make_shared<CountingText>("2000"), options,
                                  recorder(outcome, "2000"));
  REQUIRE(wait_for_outcomes(outcome, 1, 10s));
  std::lock_guard lock(outcome.mutex);
  CHECK(outcome.answered == 0);
  CHECK(outcome.failed == 1);
  CHECK(outcome.first_failure.find("TIMEOUT") != std::string::npos);
}

TEST_CASE("a binding's batch writes its calls together and reports each by its index") {
  fastmd::testing::Cluster cluster;
  cluster.start_worker("one", 2);
  cluster.start_worker("two", 2);
  auto client = cluster.client();
  REQUIRE(client->wait_for_workers(2, 10s));

  constexpr std::size_t kCalls = 3000;
  std::vector<std::string> texts;
  std::vector<std::shared_ptr<const fastmd::ipc::detail::PayloadSource>> payloads;
  for (std::size_t i = 0; i < kCalls; ++i) {
    // Every 500th call goes through the segment; the rest inline.
    texts.push_back(i % 500 == 0 ? std::string(100 * 1024, 'b') : "m" + std::to_string(i));
    payloads.push_back(std::make_shared<CountingText>(texts.back()));
  }
  std::mutex mutex;
  std::vector<int> answers(kCalls, 0);
  int wrong = 0;
  int done = 0;
  fastmd::ipc::detail::start_many(
      *client, "echo", payloads, {}, [&](std::size_t i, fastmd::proto::Result<Answer*> answer) {
        std::lock_guard lock(mutex);
        ++answers[i];
        ++done;
        if (!answer || fastmd::proto::as_chars((*answer)->payload.bytes()) != texts[i]) ++wrong;
      });
  const auto until = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (done >= static_cast<int>(kCalls) || std::chrono::steady_clock::now() >= until) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard lock(mutex);
  CHECK(done == static_cast<int>(kCalls));
  CHECK(wrong == 0);
  CHECK(std::all_of(answers.begin(), answers.end(), [](int n) { return n == 1; }));
}
