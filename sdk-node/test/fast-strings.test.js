'use strict';
// Large string results over the fast transport: from 64 KiB up they are external strings over
// recycled memory (native/js_payload.cc). Shows that they equal the expected text at the size
// boundaries and wherever a non-ASCII character sits, that invalid UTF-8 still decodes as
// buffer.toString() does, and that results kept alive survive garbage collections while the
// memory of collected ones is reused for later results.

const assert = require('node:assert/strict');
const { PerformanceObserver } = require('node:perf_hooks');
const { describe, it } = require('node:test');

const { useFastCluster } = require('./fast-support/cluster');

const KiB = 1024;
const MiB = 1024 * KiB;

// `size` bytes of ASCII text that differ with `seed`, so a result written over another shows.
function asciiText(size, seed) {
  const line = `${seed} the quick brown fox jumps over the lazy dog ${seed * 7919}\n`;
  return line.repeat(Math.ceil(size / line.length)).slice(0, size);
}

describe('large string results', { timeout: 180000 }, () => {
  const fast = useFastCluster();

  for (const size of [64 * KiB - 1, 64 * KiB, 64 * KiB + 63, MiB + 5, 10 * MiB]) {
    it(`equal the text sent at ${size} bytes, ASCII and with a non-ASCII character anywhere`, async () => {
      const ascii = asciiText(size, size);
      assert.equal(await fast.transport.call('echo', ascii, { timeoutMs: 30000 }), ascii);
      // é (2 bytes of UTF-8) first, in the middle, in the last 64-byte block, as the last character.
      for (const at of [0, size >> 1, size - 70, size - 2]) {
        const text = `${ascii.slice(0, at)}é${ascii.slice(at + 2)}`;
        assert.equal(Buffer.byteLength(text), size);
        assert.equal(await fast.transport.call('echo', text, { timeoutMs: 30000 }), text);
      }
    });
  }

  it('decode a large result of invalid UTF-8 as buffer.toString() does', async () => {
    const bytes = Buffer.from(asciiText(MiB, 3));
    bytes[MiB - 1] = 0xff;
    bytes[100] = 0xc3;
    assert.equal(await fast.transport.call('echo', bytes, { as: 'string', timeoutMs: 30000 }), bytes.toString());
  });

  it('survive garbage collections while kept, and later results reuse the memory of collected ones', async () => {
    let collections = 0;
    const observer = new PerformanceObserver((list) => { collections += list.getEntries().length; });
    observer.observe({ entryTypes: ['gc'] });
    try {
      const kept = [];
      for (let seed = 0; seed < 12; seed++) {
        const text = seed % 3 === 0 ? `€${asciiText(MiB, seed)}` : asciiText(MiB, seed);
        kept.push({ text, result: await fast.transport.call('echo', text, { timeoutMs: 30000 }) });
      }
      // 200 MiB of results that are dropped at once: V8 collects them (their memory is
      // accounted to it) and their buffers go back to the pool for the next ones.
      for (let seed = 100; seed < 300; seed++) {
        const text = seed % 4 === 0 ? `ü${asciiText(MiB, seed)}` : asciiText(MiB, seed);
        assert.equal(await fast.transport.call('echo', text, { timeoutMs: 30000 }), text);
        if (seed % 20 === 0) await new Promise(setImmediate); // let finalizers run
      }
      assert.ok(collections > 0, 'garbage collections ran while the kept results were alive');
      for (const { text, result } of kept) assert.equal(result, text);
    } finally {
      observer.disconnect();
    }
  });
});
