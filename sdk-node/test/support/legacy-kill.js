'use strict';
// The legacy transport's kill-under-load check, shared by the tests of its workers
// (legacy.test.js: fastmd-worker-md; stdio-worker.test.js: the portable test worker, also its
// Windows build under Wine).

const assert = require('node:assert/strict');

const { connect } = require('../..');
const { waitFor } = require('./wait');

/**
 * Starts two workers from `workerCommand`, sends `count` echo calls, kills the first worker
 * with SIGKILL 20 ms in, and checks that every call was answered exactly once with its own
 * payload, that the killed worker is replaced (within 10 s), and that the client still answers.
 */
async function killWorkerUnderLoad(workerCommand, count) {
  const client = await connect({ transport: 'legacy', workerCommand, workers: 2, timeoutMs: 60000 });
  try {
    const victim = client.workers[0].pid;
    const settled = new Array(count).fill(0);
    const calls = Array.from({ length: count }, (_, i) => client.call('echo', `payload ${i} `.repeat(200)).then((result) => {
      settled[i]++;
      assert.equal(result, `payload ${i} `.repeat(200));
    }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.kill(victim, 'SIGKILL');
    await Promise.all(calls);
    assert.ok(settled.every((n) => n === 1), 'every call settled exactly once');
    // The calls may all be answered before the client has read the victim's end (when none
    // were on it at the kill): its replacement is then still to come, within a bound.
    const pids = () => client.workers.map((w) => w.pid);
    await waitFor(() => pids().length === 2 && !pids().includes(victim), 10000,
      () => `the killed worker ${victim} to be replaced (workers now: ${pids().join(', ')})`);
    assert.equal(await client.call('echo', 'after'), 'after');
  } finally {
    await client.close();
  }
}

module.exports = { killWorkerUnderLoad };
