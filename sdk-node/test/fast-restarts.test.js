'use strict';
// The daemon killed (SIGKILL) and restarted four times while the fast transport is under load,
// with real fastmd-worker-md workers: every call is settled exactly once, with its result;
// after each restart the transport lists exactly the live workers, and nothing of an earlier
// daemon generation stays mapped (PROTOCOL.md §3.8 item 4): this process's and each worker's
// shared-memory segments are one generation's worth again, all of the new daemon's pool.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { describe, it } = require('node:test');

const { useFastCluster, waitFor } = require('./fast-support/cluster');

// A pool segment's name in /proc/PID/maps and fd links: a memfd under the linux platform layer,
// a deleted POSIX shm object under posix (docs/platforms.md).
const SEGMENT_NAME = /\/(memfd:|dev\/shm\/)fastmd-segment-/;

/**
 * The daemon pools' segments `pid` has mapped (/proc/PID/maps lines naming SEGMENT_NAME):
 * their inodes, the bytes mapped, and the segment fds it holds.
 */
function segments(pid) {
  const inodes = new Set();
  let bytes = 0;
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    if (!SEGMENT_NAME.test(line)) continue;
    const [range, , , , inode] = line.split(/\s+/);
    const [start, end] = range.split('-').map((hex) => BigInt(`0x${hex}`));
    bytes += Number(end - start);
    inodes.add(inode);
  }
  let fds = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (SEGMENT_NAME.test(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) fds += 1;
    } catch {
      // closed while we looked
    }
  }
  return { inodes, bytes, fds };
}

/**
 * segments(pid) once its fd count stopped changing: a peer's segment shows in /proc/PID/maps a
 * moment before its fd is closed, and a start value read in that moment holds one fd too many
 * (the C++ twin of this test caught one once in CI).
 */
async function settledSegments(pid) {
  let last = segments(pid);
  for (let i = 0; i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = segments(pid);
    if (now.fds === last.fds) return now;
    last = now;
  }
  return last;
}

/** As many segments as at the start, none of them of an earlier daemon generation. */
function oneFreshGeneration(now, expected, earlier) {
  return now.inodes.size === expected && [...now.inodes].every((inode) => !earlier.has(inode));
}

// Every 16th call is larger than the inline threshold: it travels through the segments of the
// daemon generation it was sent in.
const markdown = (index) => (index % 16 === 0 ? 'x'.repeat(64 * 1024) : `# call ${index}`);
const html = (index) => (index % 16 === 0 ? `<p>${'x'.repeat(64 * 1024)}</p>\n` : `<h1>call ${index}</h1>\n`);

describe('the daemon killed four times under load', { timeout: 120000 }, () => {
  const fast = useFastCluster({ workers: 2 });

  it('settles every call once and keeps only the live generation listed and mapped', async () => {
    const { cluster, transport } = fast;
    const workerPids = cluster.workers.map((child) => child.pid);
    assert.equal(await transport.call('transform', markdown(0), { timeoutMs: 10000 }), html(0));
    // A worker maps this process's segment when it takes its introduction, a moment after ours.
    for (const pid of workerPids) {
      await waitFor(() => segments(pid).inodes.size === 2, 5000, `worker ${pid} to map our segment`);
    }
    const start = {
      client: await settledSegments(process.pid),
      workers: await Promise.all(workerPids.map(settledSegments)),
    };
    assert.equal(start.client.inodes.size, workerPids.length + 1, 'own segment and each worker\'s');
    const earlier = new Set(start.client.inodes);
    for (const worker of start.workers) {
      assert.equal(worker.inodes.size, 2, 'a worker maps its own segment and the client\'s');
      for (const inode of worker.inodes) earlier.add(inode);
    }

    // Load: eight callers, each with one call in flight at a time, until the restarts are done.
    const settled = [];
    const wrong = [];
    let stop = false;
    const caller = async () => {
      while (!stop) {
        const index = settled.length;
        settled.push(0);
        try {
          const result = await transport.call('transform', markdown(index), { timeoutMs: 30000 });
          if (result !== html(index)) wrong.push(`${index}: ${result.slice(0, 40)}`);
        } catch (error) {
          wrong.push(`${index}: ${error.code} ${error.message}`);
          await new Promise((resolve) => setImmediate(resolve)); // a failing call never spins the loop
        }
        settled[index] += 1;
      }
    };
    const callers = Array.from({ length: 8 }, caller);

    const restarts = 4;
    const restartUnderLoad = async () => {
      for (let restart = 1; restart <= restarts; restart++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const exited = new Promise((resolve) => cluster.daemon.once('exit', resolve));
        cluster.daemon.kill('SIGKILL');
        await exited;
        await cluster.startDaemon();
        await waitFor(() => oneFreshGeneration(segments(process.pid), workerPids.length + 1, earlier), 15000,
          `restart ${restart}: this process to map only the new daemon's segments`);
        for (const pid of workerPids) {
          await waitFor(() => oneFreshGeneration(segments(pid), 2, earlier), 15000,
            `restart ${restart}: worker ${pid} to map only the new daemon's segments`);
        }
        await waitFor(() => transport.workers.length === workerPids.length, 15000,
          `restart ${restart}: the live workers to be listed`);
        assert.deepEqual(transport.workers.map((worker) => worker.pid).sort(), [...workerPids].sort(),
          `restart ${restart}: exactly the live workers are listed`);
        for (const inode of segments(process.pid).inodes) earlier.add(inode);
        for (const pid of workerPids) for (const inode of segments(pid).inodes) earlier.add(inode);
      }
    };
    try {
      await restartUnderLoad();
    } finally {
      stop = true; // the callers end even when a check failed, so the test ends
      await Promise.all(callers);
    }

    assert.deepEqual(wrong, [], 'every call got its own result');
    assert.ok(settled.every((count) => count === 1), 'each call settled exactly once');
    assert.ok(settled.length > 8 * restarts, `the load ran through the restarts (${settled.length} calls)`);
    assert.equal(transport.workers.length, workerPids.length);
    const end = { client: segments(process.pid), workers: workerPids.map(segments) };
    assert.equal(end.client.bytes, start.client.bytes, 'this process maps one generation\'s bytes');
    assert.equal(end.client.fds, start.client.fds, 'and holds as many segment fds');
    end.workers.forEach((worker, i) => {
      assert.equal(worker.bytes, start.workers[i].bytes, `worker ${workerPids[i]} maps one generation's bytes`);
      assert.equal(worker.fds, start.workers[i].fds, `worker ${workerPids[i]} holds as many segment fds`);
    });
  });
});

describe('calls in flight across a daemon restart', { timeout: 60000 }, () => {
  const fast = useFastCluster({ worker: 'fastmd-test-worker', workerArgs: ['--threads', '16'] });

  it('answers them on the killed daemon\'s channel, even those not idempotent, then closes it', async () => {
    const { cluster, transport } = fast;
    const firstGeneration = segments(process.pid).inodes;
    assert.equal(firstGeneration.size, 2);
    // Each takes 1.5 s: the daemon is killed, restarted and the transport reconnected meanwhile
    // (the worker has threads to spare, so it reconnects meanwhile too).
    const calls = Array.from({ length: 8 }, () => transport.call('sleep', '1500', { idempotent: false, timeoutMs: 30000 }));
    const exited = new Promise((resolve) => cluster.daemon.once('exit', resolve));
    cluster.daemon.kill('SIGKILL');
    await exited;
    await cluster.startDaemon();
    // Reconnected and introduced again: both generations are mapped, the old one is not listed.
    await waitFor(() => segments(process.pid).inodes.size === 4, 10000, 'the new daemon\'s introduction');
    await waitFor(() => transport.workers.length === 1, 5000, 'the new channel to be listed');
    assert.equal(transport.workers.length, 1);
    assert.deepEqual(await Promise.all(calls), Array(8).fill('1500'));
    await waitFor(() => oneFreshGeneration(segments(process.pid), 2, firstGeneration), 5000,
      'the old channel and its segments to go once its calls were settled');
  });
});
