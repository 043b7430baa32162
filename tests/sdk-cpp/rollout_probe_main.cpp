// fastmd-test-rollout-probe: prints what FASTMD_IPC_ROLLOUT makes `auto` choose in this
// process — "fast", "legacy" or "error: <message>" — asking the real decision (the one
// choose_auto() and Node's connect() use) three times, and "unstable" if the answers differ.
// test_daemon_locator.cpp runs it a thousand times to see the split.
#include <iostream>

#include "rollout.hpp"

int main() {
  using fastmd::ipc::detail::rollout_decision;
  auto first = rollout_decision();
  if (!first) {
    std::cout << "error: " << first.error().message << "\n";
    return 0;
  }
  for (int again = 0; again < 2; ++again) {
    auto next = rollout_decision();
    if (!next || next->fast != first->fast) {
      std::cout << "unstable\n";
      return 0;
    }
  }
  std::cout << (first->fast ? "fast" : "legacy") << "\n";
  return 0;
}
