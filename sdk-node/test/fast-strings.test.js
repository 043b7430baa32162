'use strict';
// Large string results over the fast transport: from 64 KiB up they are external strings over
// recycled memory (native/js_payload.cc). Shows that they equal the expected text at the size
// boundaries and wherever a non-ASCII character sits, that two-byte text and invalid UTF-8
// (among two-byte characters too) decode as buffer.toString() does, and that results kept alive survive garbage collections while the
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

  it('decode large results of two-byte characters, valid and with invalid sequences among them, as buffer.toString() does', async () => {
    // Runs of 'Ж' (D0 96) and 'é' (C3 A9), ASCII between them, so every step of the decoder is
    // taken: sixteen bytes of two-byte sequences, ASCII, and the rest one sequence at a time.
    const valid = Buffer.from(`${'Ж'.repeat(40000)} the quick brown ${'é'.repeat(9)} fox ${'Жé'.repeat(30000)}`);
    assert.equal(await fast.transport.call('echo', valid, { as: 'string', timeoutMs: 30000 }), valid.toString());
    // An overlong pair (C1 81), a lone continuation, a lead without its continuation, a
    // surrogate (ED A0 80), each inside a run of two-byte sequences, and a truncated lead last.
    const broken = Buffer.from(valid);
    broken[1000] = 0xc1;
    broken[1001] = 0x81;
    broken[20001] = 0x96;
    broken[20000] = 0x96;
    broken[30000] = 0xd0;
    broken[30001] = 0x41;
    broken.set([0xed, 0xa0, 0x80], 40002);
    broken[broken.length - 1] = 0xd0;
    assert.equal(await fast.transport.call('echo', broken, { as: 'string', timeoutMs: 30000 }), broken.toString());
    // One invalid sequence each, so each is found alone.
    for (const [at, bad] of [[1000, [0xc1, 0x81]], [20000, [0x96]], [30000, [0xd0, 0x41]], [40002, [0xed, 0xa0, 0x80]]]) {
      const one = Buffer.from(valid);
      one.set(bad, at);
      assert.equal(await fast.transport.call('echo', one, { as: 'string', timeoutMs: 30000 }), one.toString(), `invalid at ${at}`);
    }
  });

  it('send strings that do not start with ASCII as the UTF-8 Buffer.from(string) makes, at every size and path', async () => {
    // Such strings are copied out as UTF-16 and encoded by the addon (native/utf16_to_utf8.cc):
    // two-byte runs, ASCII among them, three-byte characters, surrogate pairs, lone surrogates
    // (U+FFFD, as V8 writes them), Latin-1 (one byte per character inside V8), a short string
    // (encoded from the probe) and ones past the probe, inline, in the segment and by memfd.
    const units = ['Ж', 'Жé the quick brown fox ', '€', '😀', 'é', 'Ж\uD800x', 'Ж\uDC00', 'Ж\uD83D'];
    for (const unit of units) {
      for (const length of [300, 5000, MiB, 6 * MiB]) {
        const text = unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
        const got = await fast.transport.call('echo', text, { as: 'buffer', timeoutMs: 30000 });
        assert.ok(got.equals(Buffer.from(text)), `${JSON.stringify(unit)} × ${length} units`);
      }
    }
    // A lone high surrogate as the very last unit, after a run the 16-byte steps take.
    const last = `${'Ж'.repeat(5000)}\uD83D`;
    assert.ok((await fast.transport.call('echo', last, { as: 'buffer' })).equals(Buffer.from(last)));
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
