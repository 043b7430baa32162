// Conformance: every example of the CommonMark spec, rendered through fastmd-worker-md over
// the legacy path (--stdio) and over the fast path (client → fastmd-ipcd → worker), must come
// back byte-identical to md4c called in-process. md4c's own pass rate against the spec's
// expected HTML is reported (not ours to fix, but it must be known).
#include <catch2/catch.hpp>

#include <thread>

#include "commonmark_spec.hpp"
#include "daemon_process.hpp"
#include "fastmd/ipc/client.hpp"
#include "fastmd/proto/ndjson.hpp"
#include "markdown.hpp"
#include "stdio_child.hpp"

namespace {

using namespace std::chrono_literals;
using fastmd::test::SpecExample;

std::string in_process(const SpecExample& example) {
  std::string html;
  fastmd::examples::markdown_to_html(example.markdown, html);
  return html;
}

}  // namespace

TEST_CASE("the CommonMark spec is there, and md4c's own pass rate is reported") {
  const std::vector<SpecExample> examples = fastmd::test::load_commonmark_spec();
  REQUIRE(examples.size() == 652);  // commonmark-spec 0.31.2, as pinned by sdk-node
  int passed = 0;
  for (const SpecExample& example : examples) passed += in_process(example) == example.html;
  WARN("md4c passes " << passed << "/" << examples.size()
                      << " CommonMark 0.31.2 examples (MD_DIALECT_GITHUB, output compared byte for "
                         "byte with the spec's HTML, no normalization)");
  CHECK(passed > 0);
}

TEST_CASE("every CommonMark example through fastmd-worker-md --stdio equals md4c in-process") {
  const std::vector<SpecExample> examples = fastmd::test::load_commonmark_spec();
  fastmd::test::StdioChild worker("fastmd-worker-md", {"--stdio", "--concurrency", "2"});
  std::thread writer([&] {
    fastmd::proto::ndjson::Encoder encoder;
    fastmd::proto::ndjson::LineBuffer lines;
    for (const SpecExample& example : examples) {
      encoder.append_line(
          fastmd::proto::Message::request(static_cast<std::uint64_t>(example.number), "transform",
                                          fastmd::proto::as_bytes(example.markdown)),
          lines);
    }
    (void)worker.pipes().write({lines.GetString(), lines.GetSize()});
    worker.pipes().close_input();
  });
  std::vector<std::optional<std::string>> results(examples.size() + 1);
  fastmd::proto::ndjson::Decoder decoder;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    auto line = worker.pipes().read_line(30s);
    REQUIRE(line.has_value());
    auto response = decoder.decode(*line);
    REQUIRE(response.ok());
    REQUIRE_FALSE(response->error.has_value());
    REQUIRE(response->id >= 1);
    REQUIRE(response->id <= examples.size());
    REQUIRE_FALSE(results[response->id].has_value());
    results[response->id] = std::string(fastmd::proto::as_chars(response->payload));
  }
  writer.join();
  int identical = 0;
  for (const SpecExample& example : examples) {
    INFO("example " << example.number << " (" << example.section << ")");
    CHECK(results[example.number] == in_process(example));
    identical += results[example.number] == in_process(example);
  }
  CHECK(identical == static_cast<int>(examples.size()));
  CHECK(worker.wait_exit() == 0);
}

TEST_CASE("every CommonMark example through the fast path equals md4c in-process") {
  const std::vector<SpecExample> examples = fastmd::test::load_commonmark_spec();
  // DaemonProcess returns once the daemon reported READY, so the worker's first connect succeeds.
  fastmd::test::DaemonProcess daemon;
  fastmd::test::StdioChild worker("fastmd-worker-md",
                                  {"--socket", daemon.socket_path(), "--concurrency", "2"}, false);
  auto connected =
      fastmd::ipc::Client::connect({.socket_path = daemon.socket_path(), .wants = {"transform"}});
  INFO((connected ? std::string() : connected.error().to_string()));
  REQUIRE(connected.ok());
  std::unique_ptr<fastmd::ipc::Client> client = std::move(*connected);
  REQUIRE(client->wait_for_workers(1, 10s));
  std::vector<fastmd::proto::ByteView> params;
  for (const SpecExample& example : examples)
    params.push_back(fastmd::proto::as_bytes(example.markdown));
  const auto results = client->call_many("transform", params, {.timeout = 30s});
  REQUIRE(results.size() == examples.size());
  int identical = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    INFO("example " << examples[i].number << " (" << examples[i].section << ")");
    REQUIRE(results[i].ok());
    CHECK(results[i]->text() == in_process(examples[i]));
    identical += results[i]->text() == in_process(examples[i]);
  }
  CHECK(identical == static_cast<int>(examples.size()));
}

TEST_CASE(
    "a document larger than the worker's chunks renders through a ResultWriter as in process") {
  // Every example in one document, and a code block of 40,000 plain bytes (a single piece
  // from md4c-html, larger than a chunk): the bytes a ResultWriter receives must be md4c's.
  std::string document;
  for (const SpecExample& example : fastmd::test::load_commonmark_spec()) {
    document += example.markdown + "\n\n";
  }
  document += "```\n" + std::string(40000, 'a') + "\n```\n";
  REQUIRE(document.size() > 3 * 16 * 1024);  // several chunks

  struct Recorder final : fastmd::ipc::ResultWriter {
    std::string bytes;
    std::size_t appends = 0;
    void append(fastmd::proto::ByteView piece) override {
      bytes.append(fastmd::proto::as_chars(piece));
      ++appends;
    }
    using ResultWriter::append;
  } recorder;
  fastmd::examples::markdown_to_html(document, recorder);

  std::string expected;
  fastmd::examples::markdown_to_html(document, expected);
  CHECK(recorder.bytes == expected);
  // Gathered into chunks: far fewer appends than md4c-html's pieces.
  CHECK(recorder.appends < expected.size() / 1024);
}
