'use strict';
// The legacy transport against the real fastmd-worker-md --stdio: round trips of every size
// and kind, many calls in flight over several workers, errors, timeouts and aborts, a worker
// killed with SIGKILL under load, and a process that exits by itself after close().

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, it } = require('node:test');

const { connect, FastmdError } = require('..');
const { legacyWorker, runNode } = require('./support/env');
const { killWorkerUnderLoad } = require('./support/legacy-kill');

const SIZES = [['0 B', 0], ['1 KiB', 1024], ['1 MiB', 1 << 20], ['10 MiB', 10 << 20]];

/** `bytes` bytes of text made of `unit` repeated (cut on a character boundary for ASCII). */
function text(unit, bytes) {
  const count = Math.floor(bytes / Buffer.byteLength(unit));
  return unit.repeat(count) + 'x'.repeat(bytes - count * Buffer.byteLength(unit));
}

describe('legacy transport: round trips through echo', () => {
  let client;
  before(async () => {
    client = await connect({ transport: 'legacy', workerCommand: legacyWorker(), timeoutMs: 60000 });
  });
  after(() => client.close());

  it('says which transport it uses', () => assert.equal(client.transport, 'legacy'));

  for (const [label, bytes] of SIZES) {
    it(`ASCII string, ${label}`, async () => {
      const payload = text('abc def\n', bytes);
      const result = await client.call('echo', payload);
      assert.equal(typeof result, 'string');
      assert.equal(result, payload);
    });
    it(`non-ASCII string, ${label}`, async () => {
      const payload = text('héllo wörld ✓ 日本 \u{1F600}\n', bytes);
      const result = await client.call('echo', payload);
      assert.equal(result, payload);
    });
    it(`binary Buffer (not UTF-8), ${label}`, async () => {
      const payload = crypto.randomBytes(bytes);
      const result = await client.call('echo', payload);
      assert.ok(Buffer.isBuffer(result));
      assert.ok(result.equals(payload));
    });
    it(`UTF-8 Uint8Array, ${label}`, async () => {
      const payload = new Uint8Array(Buffer.from(text('ünïcode ', bytes)));
      const result = await client.call('echo', payload);
      assert.ok(Buffer.isBuffer(result));
      assert.ok(result.equals(payload));
    });
  }

  it('returns the kind asked for with `as`', async () => {
    assert.equal(await client.call('echo', Buffer.from('héllo'), { as: 'string' }), 'héllo');
    assert.deepEqual(await client.call('echo', 'héllo', { as: 'buffer' }), Buffer.from('héllo'));
  });

  it('transforms Markdown', async () => {
    assert.equal(await client.transform('# Hi\n'), '<h1>Hi</h1>\n');
  });

  it('fails an unknown method with FASTMD_METHOD_NOT_FOUND', async () => {
    await assert.rejects(client.call('no-such-method', 'x'), (error) =>
      error instanceof FastmdError && error.code === 'FASTMD_METHOD_NOT_FOUND' && error.errno === 300 &&
      error.message === "no worker serves method 'no-such-method' (served: echo, length, transform)");
  });
});

describe('legacy transport: load', () => {
  it('answers 5,000 concurrent calls over two workers, each with its own result', async () => {
    const client = await connect({ transport: 'legacy', workerCommand: legacyWorker(), workers: 2, timeoutMs: 60000 });
    try {
      assert.equal(client.workers.length, 2);
      const payloads = Array.from({ length: 5000 }, (_, i) => `# call ${i}\n`);
      const seen = new Set();
      const results = await Promise.all(payloads.map(async (payload, i) => {
        const html = await client.transform(payload);
        seen.add(i);
        return html;
      }));
      assert.equal(seen.size, 5000);
      results.forEach((html, i) => assert.equal(html, `<h1>call ${i}</h1>\n`));
      const batch = await client.callMany('echo', payloads.slice(0, 1000));
      assert.deepEqual(batch, payloads.slice(0, 1000));
    } finally {
      await client.close();
    }
  });

  it('spreads calls over the workers by fewest outstanding', async () => {
    const client = await connect({ transport: 'legacy', workerCommand: legacyWorker(), workers: 3, timeoutMs: 60000 });
    try {
      const pending = Array.from({ length: 30 }, () => client.call('echo', 'x'.repeat(100000)));
      const loads = client.workers.map((w) => w.outstanding);
      assert.deepEqual(loads, [10, 10, 10]);
      await Promise.all(pending);
    } finally {
      await client.close();
    }
  });
});

describe('legacy transport: deadlines and aborts', () => {
  let client;
  // 10 MiB of Markdown takes the worker far longer than a 1 ms deadline.
  const big = text('- item *with* emphasis\n', 10 << 20);
  before(async () => {
    client = await connect({ transport: 'legacy', workerCommand: legacyWorker() });
  });
  after(() => client.close());

  it('fails a call past its deadline with FASTMD_TIMEOUT and keeps working', async () => {
    await assert.rejects(client.transform(big, { timeoutMs: 1 }), { code: 'FASTMD_TIMEOUT', errno: 302 });
    assert.equal(await client.call('echo', 'after', { timeoutMs: 30000 }), 'after');
  });

  it('rejects with signal.reason when aborted in flight', async () => {
    const controller = new AbortController();
    const reason = new Error('the user navigated away');
    const call = client.transform(big, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 5);
    await assert.rejects(call, (error) => error === reason);
    assert.equal(await client.call('echo', 'still here', { timeoutMs: 30000 }), 'still here');
  });

  it('rejects at once with signal.reason when already aborted', async () => {
    const reason = new Error('too late');
    await assert.rejects(client.call('echo', 'x', { signal: AbortSignal.abort(reason) }), (error) => error === reason);
  });

  it('fails pending calls with FASTMD_CANCELLED on close()', async () => {
    const other = await connect({ transport: 'legacy', workerCommand: legacyWorker() });
    const pending = assert.rejects(other.transform(big), { code: 'FASTMD_CANCELLED' });
    await other.close();
    await pending;
    await assert.rejects(other.call('echo', 'x'), { code: 'FASTMD_CANCELLED' });
  });

  it('closes through Symbol.asyncDispose, once however often it is called', async () => {
    const other = await connect({ transport: 'legacy', workerCommand: legacyWorker() });
    const pid = other.workers[0].pid;
    await Promise.all([other[Symbol.asyncDispose](), other.close(), other[Symbol.asyncDispose]()]);
    await assert.rejects(other.call('echo', 'x'), { code: 'FASTMD_CANCELLED' });
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the worker process has ended');
  });
});

describe('legacy transport: a worker killed with SIGKILL under load', () => {
  it('answers every idempotent call exactly once, from a restarted worker', () =>
    killWorkerUnderLoad(legacyWorker(), 2000));

  it('fails calls marked non-idempotent with FASTMD_PEER_GONE', async () => {
    const client = await connect({ transport: 'legacy', workerCommand: legacyWorker(), timeoutMs: 60000 });
    try {
      const victim = client.workers[0].pid;
      const big = text('- item\n', 10 << 20);
      const call = client.transform(big, { idempotent: false });
      setTimeout(() => process.kill(victim, 'SIGKILL'), 5);
      await assert.rejects(call, { code: 'FASTMD_PEER_GONE', errno: 205 });
      assert.equal(await client.call('echo', 'after'), 'after');
    } finally {
      await client.close();
    }
  });
});

describe('legacy transport: process lifetime', () => {
  const script = (closeIt) => `
    const { connect } = require('.');
    (async () => {
      const client = await connect({ transport: 'legacy', workerCommand: ${JSON.stringify(legacyWorker())}, workers: 2 });
      console.log(await client.transform('*ok*'));
      ${closeIt ? 'await client.close();' : ''}
    })();`;

  it('exits by itself after close()', async () => {
    const { code, stdout, ms } = await runNode({ script: script(true), timeoutMs: 20000 });
    assert.equal(code, 0);
    assert.equal(stdout, '<p><em>ok</em></p>\n\n');
    assert.ok(ms < 20000);
  });

  it('exits by itself when idle even without close()', async () => {
    const { code, stdout } = await runNode({ script: script(false), timeoutMs: 20000 });
    assert.equal(code, 0);
    assert.equal(stdout, '<p><em>ok</em></p>\n\n');
  });

  it('resolves close() when a worker ignores EOF and has to be killed, with nothing else keeping the process alive', async () => {
    // `sleep` never reads its stdin: close() waits out the grace period, then SIGKILLs it.
    const { code, stdout } = await runNode({
      script: `require('.').connect({ transport: 'legacy', workerCommand: ['sleep', '600'] })
        .then((client) => client.close()).then(() => console.log('closed'));`,
      timeoutMs: 20000,
    });
    assert.equal(code, 0);
    assert.equal(stdout, 'closed\n');
  });
});
