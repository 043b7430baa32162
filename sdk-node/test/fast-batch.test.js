'use strict';
// callMany over the fast transport: a batch is written to each worker's channel together and
// settled as one request. Shows that every call of a large batch is answered exactly once and
// in order, that mixed kinds and sizes keep their paths (inline, segment, one-off), that the
// first failure rejects the batch, that deadlines and aborts end a whole batch, and that a
// worker killed with -9 mid-batch has its calls re-sent.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { useFastCluster, waitFor } = require('./fast-support/cluster');

const KiB = 1024;
const MiB = 1024 * KiB;

describe('callMany over the fast transport', { timeout: 120000 }, () => {
  const fast = useFastCluster({ workers: 2 });

  it('answers each call of a batch of 10,000 once, in order, spread over both workers', async () => {
    const payloads = Array.from({ length: 10000 }, (_, i) => `call ${i} ${'y'.repeat(i % 131)}`);
    const sent = fast.transport.callMany('echo', payloads, { timeoutMs: 60000 });
    const loads = fast.transport.workers.map((worker) => worker.outstanding);
    assert.ok(loads.every((load) => load > 0), `both workers took a share (${loads})`);
    assert.equal(loads.reduce((sum, load) => sum + load, 0), payloads.length);
    assert.deepEqual(await sent, payloads);
    assert.deepEqual(fast.transport.workers.map((worker) => worker.outstanding), [0, 0]);
  });

  it('keeps each payload\'s kind and path in a mixed batch', async () => {
    const payloads = [];
    for (let i = 0; i < 30; i++) {
      const size = [0, 100, 20 * KiB, 3 * MiB, 9 * MiB][i % 5];
      if (i % 3 === 0) payloads.push(`é${'a'.repeat(size)}${i}`);
      else if (i % 3 === 1) payloads.push('b'.repeat(size) + i);
      else payloads.push(Buffer.alloc(size, i));
    }
    const before = fast.transport.stats.sent;
    const results = await fast.transport.callMany('echo', payloads, { timeoutMs: 60000 });
    const after = fast.transport.stats.sent;
    results.forEach((result, i) => {
      if (typeof payloads[i] === 'string') assert.equal(result, payloads[i]);
      else assert.ok(Buffer.isBuffer(result) && result.equals(payloads[i]), `Buffer ${i}`);
    });
    for (const path of ['inline', 'segment', 'oneoff']) assert.ok(after[path] > before[path], `${path} was used`);
  });

  it('returns the kind asked for with `as`, from any iterable', async () => {
    function* greetings() {
      yield 'héllo';
      yield Buffer.from('wörld');
    }
    const asStrings = await fast.transport.callMany('echo', greetings(), { as: 'string' });
    assert.deepEqual(asStrings, ['héllo', 'wörld']);
    const asBuffers = await fast.transport.callMany('echo', greetings(), { as: 'buffer' });
    assert.deepEqual(asBuffers.map((b) => Buffer.isBuffer(b) && b.toString()), ['héllo', 'wörld']);
    assert.deepEqual(await fast.transport.callMany('echo', []), []);
  });

  it('rejects a batch with its failure and goes on', async () => {
    await assert.rejects(fast.transport.callMany('no-such-method', ['a', 'b', 'c']), {
      code: 'FASTMD_METHOD_NOT_FOUND',
      message: "no worker serves method 'no-such-method' (served: echo, length, transform)",
    });
    assert.deepEqual(await fast.transport.callMany('echo', ['still', 'here']), ['still', 'here']);
    assert.deepEqual(fast.transport.workers.map((worker) => worker.outstanding), [0, 0]);
  });
});

describe('callMany deadlines and aborts', { timeout: 60000 }, () => {
  const fast = useFastCluster({ worker: 'fastmd-test-worker', workerArgs: ['--threads', '4'] });

  it('fails a whole batch with FASTMD_TIMEOUT when its deadline passes', async () => {
    await assert.rejects(fast.transport.callMany('sleep', ['3000', '3000', '10'], { timeoutMs: 100 }), (error) => {
      assert.equal(error.code, 'FASTMD_TIMEOUT');
      return true;
    });
    assert.equal(fast.transport.workers[0].outstanding, 0);
    assert.deepEqual(await fast.transport.callMany('echo', ['x', 'y']), ['x', 'y']);
  });

  it('rejects with signal.reason when aborted in flight or before', async () => {
    const controller = new AbortController();
    const reason = new Error('user gave up');
    const pending = fast.transport.callMany('sleep', ['3000', '3000'], { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(pending, (error) => error === reason);
    await assert.rejects(fast.transport.callMany('echo', ['x'], { signal: AbortSignal.abort(reason) }),
      (error) => error === reason);
  });

  it('rejects with the first failure of a batch (FASTMD_HANDLER_FAILED)', async () => {
    await assert.rejects(fast.transport.callMany('fail', ['x', 'y'], { timeoutMs: 10000 }), (error) => {
      assert.equal(error.code, 'FASTMD_HANDLER_FAILED');
      return true;
    });
  });
});

describe('a worker killed with -9 in the middle of a batch', { timeout: 120000 }, () => {
  const fast = useFastCluster({ workers: 2 });

  it('re-sends its calls: every call of the batch is answered once, correctly', async () => {
    const [victim] = fast.cluster.workers;
    const payloads = Array.from({ length: 20000 }, (_, i) => `${i}:${'m'.repeat(i % 50 === 0 ? 40000 : 100)}`);
    const results = fast.transport.callMany('echo', payloads, { timeoutMs: 60000 });
    const share = fast.transport.workers.find((worker) => worker.pid === victim.pid).outstanding;
    // Killed while it works through its share: whatever it answered before dying counts,
    // the rest must be re-sent to the other worker.
    victim.kill('SIGKILL');
    assert.ok(share > 0, 'the victim took a share of the batch');
    assert.deepEqual(await results, payloads);
    await waitFor(() => fast.transport.workers.length === 1, 10000, 'the dead worker to be dropped');
  });
});
