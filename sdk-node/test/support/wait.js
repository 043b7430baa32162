'use strict';
// Bounded waiting for the tests: a condition polled every 10 ms until a deadline.

/**
 * Resolves once `check()` is true; rejects after `ms` with `what` in the message (a function is
 * called then, so the message can say what was last seen).
 */
async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      const awaited = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${ms} ms waiting for ${awaited}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

module.exports = { waitFor };
