'use strict';
// Stopping pool workers loses no call, from Node (PROTOCOL.md §3.11): SIGTERM of the daemon with
// far more calls in flight than the workers' handler slots, and SIGHUP removing a pool under
// load, with calls that are not idempotent (the client never sends one twice, so a call left on
// a stopping worker would fail): every call is answered exactly once, counted. The real daemon
// and fastmd-worker-md; pool state from `fastmd-ipcctl pools --json`.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, describe, it } = require('node:test');

const { connect } = require('..');
const { Cluster, waitFor } = require('./fast-support/cluster');
const { poolStatus, poolTable, readyPids, waitForPool } = require('./fast-support/pools');

/**
 * Makes `total` calls of `payloadOf(i)`, not idempotent, `perTurn` per turn of the event loop,
 * running `atQuarter()` once a quarter of them went out; counts how often each settled.
 */
async function makeCalls(client, total, payloadOf, { perTurn = total, atQuarter = () => {} } = {}) {
  const settled = new Array(total).fill(0);
  const failures = [];
  const calls = [];
  for (let i = 0; i < total; i++) {
    if (i === Math.floor(total / 4)) atQuarter();
    calls.push(client.call('transform', payloadOf(i), { idempotent: false, timeoutMs: 120000 }).then(
      () => { settled[i] += 1; },
      (error) => { settled[i] += 1; failures.push(`${error.code}: ${error.message}`); },
    ));
    if ((i + 1) % perTurn === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(calls);
  return { settled, failures };
}

describe('stopping pool workers loses no call', { timeout: 180000 }, () => {
  let cluster = null;
  let client = null;
  after(async () => {
    await client?.close();
    await cluster?.stop();
  });

  it('SIGTERM of the daemon with far more calls in flight than handler slots: each answered once, exit 0', async () => {
    // Two one-slot workers; a generous drain bound for a loaded machine.
    cluster = new Cluster({ config: poolTable('markdown', ['--concurrency', '1'], 'min = 2\n'),
      daemonArgs: ['--drain-timeout-ms', '30000'] });
    await cluster.startDaemon();
    client = await connect({ transport: 'fast', socket: cluster.socket });
    await waitFor(() => client.workers.length === 2, 15000, 'both pool workers to be introduced');

    let document = '';
    while (document.length < 16 * 1024) document += '# Title\n\nSome *text* and `code`.\n\n';
    const total = 1500;
    const exited = new Promise((resolve) => cluster.daemon.once('exit', (code) => resolve(code)));
    // The signal goes on the next turn of the loop: after every call below was written.
    setImmediate(() => cluster.daemon.kill('SIGTERM'));
    const run = await makeCalls(client, total, () => document);
    assert.deepEqual(run.failures, [], 'no call failed');
    assert.ok(run.settled.every((count) => count === 1), 'each call settled exactly once');
    assert.equal(await exited, 0, 'the daemon exits 0');
    await client.close();
    client = null;
    await cluster.stop();
    cluster = null;
  });

  it('SIGHUP removing a pool under load: each call answered once', async () => {
    const first = poolTable('first', ['--concurrency', '1'], 'min = 2\n');
    const second = poolTable('second', ['--concurrency', '2'], 'min = 2\n');
    cluster = new Cluster({ config: `${first}\n${second}` });
    await cluster.startDaemon();
    client = await connect({ transport: 'fast', socket: cluster.socket });
    await waitFor(() => client.workers.length === 4, 15000, 'the four pool workers to be introduced');

    const total = 6000;
    // A quarter of the calls out, the first pool is removed; the rest go out meanwhile.
    const run = await makeCalls(client, total, (i) => `*call* ${i}\n`, {
      perTurn: 50,
      atQuarter: () => {
        fs.writeFileSync(path.join(cluster.dir, 'ipcd.toml'), second);
        cluster.daemon.kill('SIGHUP');
      },
    });
    assert.deepEqual(run.failures, [], 'no call failed');
    assert.ok(run.settled.every((count) => count === 1), 'each call settled exactly once');

    await waitFor(async () => (await poolStatus(cluster.socket, 'first')) === undefined, 20000,
      'the removed pool to be gone');
    const kept = await waitForPool(cluster.socket, 'second', (p) => readyPids(p).length === 2, 10000,
      'the kept pool');
    assert.equal(readyPids(kept).length, 2);
    assert.equal(await client.call('echo', 'after'), 'after');
  });
});
