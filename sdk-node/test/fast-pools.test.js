'use strict';
// The daemon's worker pools from Node: a daemon started on a `[[pool]]` config, with no worker
// started by hand, serves connect({ transport: 'fast' }) calls (the pool starts its worker on
// demand); pool workers killed with -9 under load are restarted by the daemon while every
// call is answered exactly once; a command that exits at once is stopped as crash-looping; and
// a worker started by hand before the daemon joins it. Pool state comes from
// `fastmd-ipcctl pools --json`.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { connect } = require('..');
const { Cluster, waitFor } = require('./fast-support/cluster');
const { poolStatus, poolTable, readyPids, usePoolDaemon, waitForPool } = require('./fast-support/pools');

describe('a daemon with an on-demand pool and no worker started by hand', { timeout: 60000 }, () => {
  const fixture = usePoolDaemon(poolTable('markdown', ['--concurrency', '1'],
    'methods = ["transform", "echo", "length"]\n'));

  it('starts no worker until a call, then the first call waits for one and succeeds', async () => {
    const { socket } = fixture.cluster;
    const idle = await waitForPool(socket, 'markdown', () => true, 10000, 'the pool to be listed');
    assert.deepEqual(idle.workers, [], 'an on-demand pool with declared methods starts none');

    fixture.client = await connect({ transport: 'fast', socket });
    assert.equal(fixture.client.transport, 'fast');
    assert.equal(await fixture.client.call('transform', '*on demand*\n'), '<p><em>on demand</em></p>\n');
    assert.equal(await fixture.client.call('length', 'four'), '4');

    const started = await waitForPool(socket, 'markdown', (p) => readyPids(p).length === 1, 10000,
      'one ready worker');
    assert.equal(started.restarts, 0);
  });
});

describe('pool workers killed with -9 under load', { timeout: 120000 }, () => {
  const fixture = usePoolDaemon(poolTable('markdown', ['--concurrency', '2'],
    'min = 2\nrestart-backoff-ms = [20, 200]\n'));

  it('are restarted by the daemon, and every call is answered exactly once', async () => {
    const { socket } = fixture.cluster;
    fixture.client = await connect({ transport: 'fast', socket });
    const before = await waitForPool(socket, 'markdown', (p) => readyPids(p).length === 2, 10000,
      'two ready workers');
    const victims = readyPids(before);
    await waitFor(() => fixture.client.workers.length === 2, 10000, 'both workers to be introduced');

    const total = 4000;
    const settled = new Array(total).fill(0);
    let answered = 0;
    let killed = false;
    const calls = Array.from({ length: total }, (_, i) => {
      const payload = `# call ${i}\n`;
      return fixture.client.call('transform', payload, { timeoutMs: 60000 }).then((html) => {
        settled[i] += 1;
        assert.equal(html, `<h1>call ${i}</h1>\n`);
        answered += 1;
        if (!killed && answered === 200) {
          killed = true;
          for (const pid of victims) process.kill(pid, 'SIGKILL');
        }
      });
    });
    await Promise.all(calls);
    assert.ok(killed, 'the workers were killed while calls were in flight');
    assert.ok(settled.every((count) => count === 1), 'each call settled exactly once');

    const back = await waitForPool(socket, 'markdown',
      (p) => p.restarts === 2 && readyPids(p).length === 2, 20000, 'both workers restarted');
    for (const pid of readyPids(back)) assert.ok(!victims.includes(pid), `pid ${pid} is a new process`);
    assert.equal(back.last_exit, 'killed by signal 9 (Killed)');
    assert.equal(await fixture.client.call('echo', 'after'), 'after');
  });
});

describe('a pool whose command exits at once', { timeout: 60000 }, () => {
  const fixture = usePoolDaemon(`[[pool]]\nname = "broken"\ncommand = ["/bin/false"]\n`
    + 'methods = ["transform"]\nmin = 1\nrestart-backoff-ms = [10, 40]\n'
    + 'crash-loop = { failures = 4, within-s = 60 }\n');

  it('is stopped after the crash-loop limit, shown so, and its calls fail with NO_WORKER', async () => {
    const { socket } = fixture.cluster;
    const looping = await waitForPool(socket, 'broken', (p) => p.state === 'crash-looping', 20000,
      'the crash-loop stop');
    assert.deepEqual(looping.workers, []);
    assert.equal(looping.recent_failures, 4);
    assert.equal(looping.restarts, 3, 'the first start, then three restarts, each exiting');
    assert.equal(looping.last_exit, 'exit status 1');

    fixture.client = await connect({ transport: 'fast', socket });
    await assert.rejects(fixture.client.call('transform', 'x'), { code: 'FASTMD_NO_WORKER' });
    const later = await poolStatus(socket, 'broken');
    assert.equal(later.state, 'crash-looping');
    assert.equal(later.restarts, 3, 'a call does not restart a crash-looping pool');
  });
});

describe('a worker started by hand before its daemon, with --wait-for-daemon', { timeout: 60000 }, () => {
  it('joins when the daemon comes up, and Node calls reach it', async () => {
    const cluster = new Cluster();
    try {
      const worker = cluster.startWorker(['--wait-for-daemon']);
      await new Promise((resolve) => setTimeout(resolve, 300)); // it waits: no daemon yet
      assert.equal(worker.exitCode, null, 'the worker waits instead of exiting');
      await cluster.startDaemon();
      const client = await connect({ transport: 'fast', socket: cluster.socket });
      try {
        await waitFor(() => client.workers.length === 1, 20000, 'the waiting worker to join');
        assert.equal(client.workers[0].pid, worker.pid);
        assert.equal(await client.call('transform', '*late*'), '<p><em>late</em></p>\n');
      } finally {
        await client.close();
      }
    } finally {
      await cluster.stop();
    }
  });
});
