'use strict';
// The legacy transport's kill-under-load check, shared by the tests of its workers
// (legacy.test.js: fastmd-worker-md; stdio-worker.test.js: the portable test worker, also its
// Windows build under Wine).

const assert = require('node:assert/strict');

const { connect } = require('../..');

/**
 * Starts two workers from `workerCommand`, sends `count` echo calls, kills the first worker
 * with SIGKILL 20 ms in, and checks that every call was answered exactly once with its own
 * payload, that the killed worker was replaced, and that the client still answers.
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
    const pids = client.workers.map((w) => w.pid);
    assert.equal(pids.length, 2);
    assert.ok(!pids.includes(victim), 'the killed worker was replaced');
    assert.equal(await client.call('echo', 'after'), 'after');
  } finally {
    await client.close();
  }
}

module.exports = { killWorkerUnderLoad };
