'use strict';
// The daemon scales a pool from the load its workers report, seen from Node: a busy pool grows
// to `max` and shrinks back to `min` when idle, and `max-requests` replaces a worn worker with
// a new process; in both, every call is answered exactly once. The worker counts come from
// `fastmd-ipcctl pools --json`; every wait is bounded and no assertion is about time.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { connect } = require('..');
const { poolTable, readyPids, usePoolDaemon, waitForPool } = require('./fast-support/pools');
const { processAlive } = require('./support/env');

describe('a busy pool of one-thread workers', { timeout: 120000 }, () => {
  const fixture = usePoolDaemon(poolTable('markdown', ['--concurrency', '1'],
    'min = 1\nmax = 2\nidle-stop-s = 1\n'));

  it('grows to max under load and shrinks to min when idle, answering every call once', async () => {
    const { socket } = fixture.cluster;
    fixture.client = await connect({ transport: 'fast', socket });
    const initial = await waitForPool(socket, 'markdown', (p) => readyPids(p).length === 1, 20000,
      'the min worker');

    // fastmd-worker-md --concurrency 1 runs one call at a time: big transforms kept in flight
    // are more than one worker can run, so the daemon must add the second. Four lanes: the
    // daemon counts a worker saturated only while its load reports (one per 100 ms) show a call
    // in flight for 500 ms in a row, and with two lanes this wait timed out twice in CI (cause
    // not established). With two, the moments when both lanes are decoding and checking their
    // 600 KB answers leave the worker idle, and a report taken then restarts that count; with
    // four, calls stay queued behind the running one.
    let document = '';
    while (document.length < 512 * 1024) document += '# Title\n\nSome *text* and `code`.\n\n';
    const expected = await fixture.client.call('transform', document);
    const settled = [];
    let keepBusy = true;
    const lane = async () => {
      while (keepBusy) {
        const index = settled.push(0) - 1;
        const html = await fixture.client.call('transform', document, { timeoutMs: 60000 });
        settled[index] += 1;
        assert.equal(html, expected);
      }
    };
    const lanes = Array.from({ length: 4 }, lane);

    const counts = [initial.workers.length]; // the pool's worker counts over time
    const record = (pool) => {
      if (counts.at(-1) !== pool.workers.length) counts.push(pool.workers.length);
    };
    try {
      await waitForPool(socket, 'markdown', (p) => {
        record(p);
        return readyPids(p).length === 2;
      }, 60000, 'a second ready worker under load');
    } finally {
      keepBusy = false;
      await Promise.all(lanes);
    }
    assert.ok(settled.every((count) => count === 1), 'each call settled exactly once');

    const shrunk = await waitForPool(socket, 'markdown', (p) => {
      record(p);
      return p.workers.length === 1 && readyPids(p).length === 1;
    }, 60000, `the pool back at min (counts seen: ${counts})`);
    assert.equal(counts[0], 1, `worker counts seen: ${counts}`);
    assert.ok(counts.includes(2), `worker counts seen: ${counts}`);
    assert.equal(shrunk.restarts, 0, 'the idle worker was stopped, not restarted');
    assert.equal(await fixture.client.call('echo', 'after'), 'after');
  });
});

describe('a pool with max-requests', { timeout: 120000 }, () => {
  const fixture = usePoolDaemon(poolTable('markdown', ['--concurrency', '2'],
    'min = 1\nmax-requests = 50\n'));

  it('replaces a worn worker with a new process, answering every call once', async () => {
    const { socket } = fixture.cluster;
    fixture.client = await connect({ transport: 'fast', socket });
    const first = readyPids(await waitForPool(socket, 'markdown', (p) => readyPids(p).length === 1,
      20000, 'the min worker'))[0];

    // Batches of 25, each answered before the next goes: the load reports between them let the
    // daemon see the worker pass 50 requests and recycle it while calls go on.
    const calls = 300;
    const settled = new Array(calls).fill(0);
    for (let start = 0; start < calls; start += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, k) => start + k).map(async (i) => {
        const html = await fixture.client.call('transform', `# call ${i}\n`, { timeoutMs: 60000 });
        settled[i] += 1;
        assert.equal(html, `<h1>call ${i}</h1>\n`);
      }));
    }
    assert.ok(settled.every((count) => count === 1), 'each call settled exactly once');

    const replaced = await waitForPool(socket, 'markdown',
      (p) => p.workers.length === 1 && readyPids(p).length === 1 && !readyPids(p).includes(first),
      30000, `worker ${first} replaced`);
    assert.equal(replaced.restarts, 0, 'the worn worker was recycled, not restarted');
    assert.ok(!processAlive(first), `worker ${first} has exited`);
    assert.equal(await fixture.client.call('echo', 'after'), 'after');
  });
});
