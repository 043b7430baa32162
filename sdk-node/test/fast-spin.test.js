'use strict';
// The fast transport's `spinUs` option: when the event loop is about to sleep with calls in
// flight, the client polls shared memory for their answers first (the core's spin; unset it
// adapts, 0 never spins). Shows that results are the same as without it at every size and
// kind, for single calls and batches, that deadlines still fire when the answer takes longer
// than the spin, that even a spin of a second never keeps immediates or other I/O waiting, and
// that connect() checks the option.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { describe, it } = require('node:test');

const { connect } = require('..');
const { useFastCluster } = require('./fast-support/cluster');

const KiB = 1024;
const MiB = 1024 * KiB;
const SPIN_US = 200;

describe('spinUs with fastmd-worker-md', { timeout: 120000 }, () => {
  const fast = useFastCluster({ workerArgs: ['--spin-us', String(SPIN_US)], transport: { spinUs: SPIN_US } });

  for (const size of [0, 64, KiB, MiB]) {
    it(`round-trips ${size} bytes as ASCII, non-ASCII and a Buffer, 200 times in a row`, async () => {
      const ascii = 'a1 '.repeat(size).slice(0, size);
      const unicode = 'é€'.repeat(size).slice(0, size);
      const bytes = Buffer.from(ascii.split('').reverse().join(''));
      for (let i = 0; i < 200; i++) {
        assert.equal(await fast.transport.call('echo', ascii), ascii);
        assert.equal(await fast.transport.call('echo', unicode), unicode);
        assert.ok((await fast.transport.call('echo', bytes)).equals(bytes));
      }
    });
  }

  it('answers each call of a batch of 5,000 once, in order', async () => {
    const payloads = Array.from({ length: 5000 }, (_, i) => `spin ${i}`);
    assert.deepEqual(await fast.transport.callMany('echo', payloads, { timeoutMs: 60000 }), payloads);
    assert.equal(fast.transport.workers[0].outstanding, 0);
  });

  it('lets timers run while a batch of 100,000 calls is answered', async () => {
    let ticks = 0;
    const ticker = setInterval(() => { ticks += 1; }, 1);
    try {
      const payloads = new Array(100000).fill('batch');
      assert.deepEqual(await fast.transport.callMany('echo', payloads, { timeoutMs: 60000 }), payloads);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(ticks > 0, 'the interval ran while the batch\'s answers kept coming');
  });

  it('lets timers run while 64 calls at a time, each answer starting the next, keep it busy', async () => {
    let ticks = 0;
    const ticker = setInterval(() => { ticks += 1; }, 1);
    let started = 0;
    const lane = async () => {
      while (started < 20000) {
        started += 1;
        assert.equal(await fast.transport.call('echo', 'lane'), 'lane');
      }
    };
    try {
      await Promise.all(Array.from({ length: 64 }, lane));
    } finally {
      clearInterval(ticker);
    }
    assert.ok(ticks > 0, 'the interval ran while answers kept starting calls');
  });

  it('lets timers and I/O run between calls', async () => {
    let ticks = 0;
    const ticker = setInterval(() => { ticks += 1; }, 1);
    try {
      const started = Date.now();
      while (Date.now() - started < 100) await fast.transport.call('echo', 'tick');
    } finally {
      clearInterval(ticker);
    }
    assert.ok(ticks > 0, 'the interval ran while answers kept coming within the spin');
  });
});

describe('spinUs with a slow worker', { timeout: 60000 }, () => {
  const fast = useFastCluster({ worker: 'fastmd-test-worker', workerArgs: ['--threads', '2'], transport: { spinUs: SPIN_US } });

  it('answers a call that takes longer than the spin', async () => {
    assert.equal(await fast.transport.call('sleep', '50', { timeoutMs: 10000 }), '50');
  });

  it('still fails a call that outlives timeoutMs with FASTMD_TIMEOUT', async () => {
    await assert.rejects(fast.transport.call('sleep', '3000', { timeoutMs: 100 }), (error) => {
      assert.equal(error.code, 'FASTMD_TIMEOUT');
      return true;
    });
  });
});

describe('spinUs of a second with a slow worker', { timeout: 60000 }, () => {
  const fast = useFastCluster({ worker: 'fastmd-test-worker', transport: { spinUs: 1000000 } });

  // Each would wait for the loop's next turn; a spin holding every turn for its 10 ms limit
  // would make them take seconds, long after the 300 ms call.
  it('runs 200 immediates, one after another, before a 300 ms call is answered', async () => {
    let answered = false;
    const pending = fast.transport.call('sleep', '300', { timeoutMs: 10000 }).then(() => { answered = true; });
    let ran = 0;
    await new Promise((resolve) => {
      const step = () => (answered || ++ran === 200 ? resolve() : setImmediate(step));
      setImmediate(step);
    });
    assert.equal(ran, 200);
    assert.equal(answered, false, 'the immediates waited for a spin');
    await pending;
  });

  it('answers 100 messages of a local socket, one after another, before a 300 ms call is answered', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-spin-'));
    const server = net.createServer((socket) => socket.on('data', (data) => socket.write(data)));
    await new Promise((resolve) => server.listen(path.join(dir, 'echo.sock'), resolve));
    const socket = net.connect(path.join(dir, 'echo.sock'));
    await new Promise((resolve) => socket.once('connect', resolve));
    try {
      let answered = false;
      const pending = fast.transport.call('sleep', '300', { timeoutMs: 10000 }).then(() => { answered = true; });
      let echoed = 0;
      await new Promise((resolve) => {
        socket.on('data', () => (answered || ++echoed === 100 ? resolve() : socket.write('x')));
        socket.write('x');
      });
      assert.equal(echoed, 100);
      assert.equal(answered, false, 'the socket waited for a spin');
      await pending;
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('connect() checks spinUs', () => {
  for (const bad of [-1, Number.NaN, Infinity, '200']) {
    it(`rejects spinUs ${String(bad)} with a TypeError`, async () => {
      await assert.rejects(connect({ transport: 'legacy', spinUs: bad }), TypeError);
    });
  }
});
