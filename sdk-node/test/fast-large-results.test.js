'use strict';
// Large results over the fast transport (native/js_payload.cc): strings and Buffers of every
// kind of content come back byte-exact from 0 B to 10 MiB, whichever path they took (inline,
// the worker's segment, a one-off memfd); a result made over a one-off memfd's own mapping
// may be written by JS without changing anything else; Buffers held over the worker's segment
// stay within their budget and the worker keeps answering through its segment; and results
// kept alive when their worker dies, and its segment is leased to a new worker, keep their
// bytes.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { loadAddon } = require('../lib/fast/addon');
const { useFastCluster, waitFor } = require('./fast-support/cluster');

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [0, 1, 64 * KiB - 1, 64 * KiB, MiB, 6 * MiB, 10 * MiB];

// `size` bytes of UTF-8 text made of `unit` repeated, after an ASCII seed that tells results apart.
function text(unit, size, seed) {
  const head = `${seed}:`;
  const units = Math.max(0, Math.floor((size - Buffer.byteLength(head)) / Buffer.byteLength(unit)));
  const body = head + unit.repeat(units);
  return body + 'x'.repeat(Math.max(0, size - Buffer.byteLength(body)));
}

// Bytes that differ with `seed` and cover all 256 values.
function bytes(size, seed) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

// Segments of 4 MiB in a pool of two (the client's and one worker's): 1 MiB results come
// through the worker's segment, 6 and 10 MiB ones through one-off memfds, a new worker gets
// the dead one's segment, and one client's Buffers may hold segment size /
// policy.heldResultsSegmentDivisor of a worker segment in place (the C++ core's number).
const SEGMENT_BYTES = 4096 * KiB;
const SMALL_SEGMENTS = ['--pool-size-mib', '10', '--segment-size-kib', String(SEGMENT_BYTES / KiB)];
const HELD_BUDGET = SEGMENT_BYTES / loadAddon().policy.heldResultsSegmentDivisor;

const CONTENT = { ascii: 'a', 'Latin-1': 'é', 'two-byte': 'Ж€', emoji: '😀' };

describe('large results', { timeout: 300000 }, () => {
  const fast = useFastCluster({ daemonArgs: SMALL_SEGMENTS });
  const call = (payload, options = {}) => fast.transport.call('echo', payload, { timeoutMs: 60000, ...options });

  for (const [kind, unit] of Object.entries(CONTENT)) {
    it(`round-trip ${kind} strings byte-exact at ${SIZES.join(', ')} bytes`, async () => {
      for (const size of SIZES) {
        const sent = text(unit, size, size);
        const got = await call(sent);
        assert.equal(got.length, sent.length, `${size} B of ${kind}: length`);
        assert.ok(got === sent, `${size} B of ${kind}: content`);
      }
    });
  }

  it('round-trip Buffers of all byte values byte-exact at every size, as Buffers', async () => {
    for (const size of SIZES) {
      const sent = bytes(size, size);
      const got = await call(sent);
      assert.ok(Buffer.isBuffer(got), `${size} B: a Buffer`);
      assert.ok(got.equals(sent), `${size} B: content`);
    }
  });

  it('take every path: inline, the segment and one-off memfds', async () => {
    const before = fast.transport.stats.received;
    await call(bytes(10, 1));
    await call(bytes(MiB, 2));
    await call(bytes(10 * MiB, 3));
    const after = fast.transport.stats.received;
    assert.ok(after.inline > before.inline, 'an inline result');
    assert.ok(after.segment > before.segment, 'a result through the worker segment');
    assert.ok(after.oneoff > before.oneoff, 'a result through a one-off memfd');
  });

  it('let JS write to a result Buffer made over a one-off memfd without changing the next result', async () => {
    const sent = bytes(10 * MiB, 7);
    const first = await call(sent);
    first.fill(0);
    first[first.length - 1] = 1;
    assert.equal(first[0], 0);
    const second = await call(sent);
    assert.ok(second.equals(sent), 'the next result is the payload, not what JS wrote');
    assert.ok(sent.equals(bytes(10 * MiB, 7)), 'the payload is unchanged');
  });
});


describe('result Buffers held in place', { timeout: 300000 }, () => {
  const fast = useFastCluster({ daemonArgs: SMALL_SEGMENTS });
  const call = (payload) => fast.transport.call('echo', payload, { timeoutMs: 60000 });

  it('are copied past the budget, and the worker keeps answering through its segment', async () => {
    const kept = [];
    const size = MiB - 4096;
    const before = fast.transport.stats;
    for (let seed = 0; seed < 12; seed++) {
      const sent = bytes(size, seed);
      kept.push({ sent, got: await call(sent) });
    }
    const after = fast.transport.stats;
    assert.equal(after.received.inPlace - before.received.inPlace, Math.floor(HELD_BUDGET / size),
      'as many results held in place as the budget has room for');
    assert.ok(after.heldBytes <= HELD_BUDGET, `at most the budget held (${after.heldBytes} of ${HELD_BUDGET} B)`);
    assert.equal(after.received.segment - before.received.segment, 12, 'every result came through the segment');
    assert.equal(after.received.oneoff, before.received.oneoff, 'none by one-off memfd');
    for (const { sent, got } of kept) assert.ok(got.equals(sent));
  });

});

describe('results kept alive when their worker dies', { timeout: 300000 }, () => {
  const fast = useFastCluster({ daemonArgs: SMALL_SEGMENTS });
  const call = (payload) => fast.transport.call('echo', payload, { timeoutMs: 60000 });

  it('keep their bytes when the worker\'s segment is leased to a new worker', async () => {
    const [worker] = fast.transport.workers;
    const kept = [];
    for (let seed = 0; seed < 3; seed++) {
      for (const size of [MiB, 6 * MiB]) {
        const buffer = bytes(size, seed);
        const string = text('é', size, seed);
        kept.push({ expected: buffer, got: await call(buffer) });
        kept.push({ expected: string, got: await call(string) });
      }
    }
    assert.ok(fast.transport.stats.heldBytes > 0, 'some kept Buffers are over the worker segment');
    fast.cluster.workers[0].kill('SIGKILL');
    await waitFor(() => fast.transport.workers.length === 0, 10000, 'the killed worker to be gone');
    fast.cluster.startWorker();
    await waitFor(() => fast.transport.workers.length === 1, 10000, 'a new worker');
    const [replacement] = fast.transport.workers;
    assert.equal(replacement.segment, worker.segment, 'the new worker has the dead one\'s segment');
    // The new worker writes its results where the old one's were.
    for (let seed = 10; seed < 14; seed++) {
      const buffer = bytes(3 * MiB, seed);
      assert.ok((await call(buffer)).equals(buffer));
    }
    for (const { expected, got } of kept) {
      if (typeof expected === 'string') assert.ok(got === expected, 'a kept string is unchanged');
      else assert.ok(got.equals(expected), 'a kept Buffer is unchanged');
    }
  });
});
