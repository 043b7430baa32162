'use strict';
// The fast transport when things go wrong: deadlines, aborts, a worker killed with -9 in the
// middle of a load (every call still answered exactly once), the daemon restarted.
// Slow calls use fastmd-test-worker's `sleep` (the reference Markdown worker has no slow
// method); everything else runs against fastmd-worker-md.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { useFastCluster, waitFor } = require('./fast-support/cluster');

describe('deadlines and aborts', { timeout: 60000 }, () => {
  const fast = useFastCluster({ worker: 'fastmd-test-worker', workerArgs: ['--threads', '4'] });

  it('fails a call that outlives timeoutMs with FASTMD_TIMEOUT, and goes on', async () => {
    const started = Date.now();
    await assert.rejects(fast.transport.call('sleep', '3000', { timeoutMs: 100 }), (error) => {
      assert.equal(error.code, 'FASTMD_TIMEOUT');
      return true;
    });
    assert.ok(Date.now() - started < 2500, 'the deadline, not the worker, ended the call');
    assert.equal(await fast.transport.call('echo', 'still here', { timeoutMs: 10000 }), 'still here');
  });

  it('rejects with signal.reason when aborted in flight', async () => {
    const controller = new AbortController();
    const reason = new Error('user gave up');
    const pending = fast.transport.call('sleep', '3000', { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(pending, (error) => error === reason);
  });

  it('rejects at once with signal.reason when already aborted', async () => {
    const reason = new Error('never mind');
    await assert.rejects(fast.transport.call('echo', 'x', { signal: AbortSignal.abort(reason) }),
      (error) => error === reason);
  });

  it('reports a handler failure with FASTMD_HANDLER_FAILED', async () => {
    await assert.rejects(fast.transport.call('fail', 'x', { timeoutMs: 10000 }), (error) => {
      assert.equal(error.code, 'FASTMD_HANDLER_FAILED');
      assert.equal(error.errno, 301);
      return true;
    });
  });
});

describe('a worker killed with -9 under load', { timeout: 120000 }, () => {
  const fast = useFastCluster({ workers: 2 });

  it('re-sends its in-flight calls: every call is answered once, correctly', async () => {
    const [victim] = fast.cluster.workers;
    const total = 4000;
    const settled = new Array(total).fill(0);
    let answered = 0;
    let killed = false;
    const calls = Array.from({ length: total }, (_, i) => {
      const payload = `${i}:${'m'.repeat(i % 3 === 0 ? 40000 : 200)}`; // inline and shm
      return fast.transport.call('echo', payload, { timeoutMs: 60000 }).then((result) => {
        settled[i] += 1;
        assert.equal(result, payload);
        answered += 1;
        if (!killed && answered === 200) {
          killed = true;
          victim.kill('SIGKILL');
        }
      });
    });
    await Promise.all(calls);
    assert.ok(killed, 'the worker was killed while calls were in flight');
    assert.ok(settled.every((count) => count === 1), 'each call settled exactly once');
    await waitFor(() => fast.transport.workers.length === 1, 10000, 'the dead worker to be dropped');
  });
});

describe('a worker killed holding calls marked idempotent or not', { timeout: 60000 }, () => {
  const fast = useFastCluster({ worker: 'fastmd-test-worker', workers: 2 });

  it('fails the call marked idempotent: false with FASTMD_PEER_GONE and re-sends the other', async () => {
    const once = fast.transport.call('sleep', '2000', { idempotent: false });
    const [holder] = fast.transport.workers.filter((worker) => worker.outstanding === 1);
    // Wherever it goes, this call is answered: by its worker, or re-sent from the holder.
    const again = fast.transport.call('sleep', '300', { idempotent: true });
    process.kill(holder.pid, 'SIGKILL');
    await assert.rejects(once, { code: 'FASTMD_PEER_GONE' });
    assert.equal(await again, '300');
  });
});

describe('no worker yet', { timeout: 60000 }, () => {
  const fast = useFastCluster({ workers: 0, transport: { wants: ['echo'] } });

  it('fails a method nothing serves with the daemon\'s FASTMD_METHOD_NOT_FOUND at once', async () => {
    await assert.rejects(fast.transport.call('transform', '# x'), {
      code: 'FASTMD_METHOD_NOT_FOUND',
      message: "no worker serves method 'transform' (served: none)",
    });
  });

  it('makes a call for a method named in wants wait for a worker started after it', async () => {
    const pending = fast.transport.call('echo', 'late');
    fast.cluster.startWorker();
    assert.equal(await pending, 'late');
  });
});

describe('daemon restart', { timeout: 60000 }, () => {
  const fast = useFastCluster();

  it('reconnects to the new daemon and is introduced to its workers', async () => {
    assert.equal(await fast.transport.call('echo', 'before', { timeoutMs: 10000 }), 'before');

    fast.cluster.daemon.kill('SIGKILL');
    await new Promise((resolve) => fast.cluster.daemon.once('exit', resolve));
    await fast.cluster.startDaemon();
    const fresh = fast.cluster.startWorker();
    await waitFor(() => fast.transport.workers.some((w) => w.pid === fresh.pid), 15000,
      'an introduction to the new daemon\'s worker');
    assert.equal(await fast.transport.call('echo', 'after', { timeoutMs: 10000 }), 'after');
  });
});
