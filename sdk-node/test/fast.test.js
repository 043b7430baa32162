'use strict';
// The fast transport against the real fastmd-ipcd and fastmd-worker-md: round trips of every
// size and kind (inline, shared memory, one-off memfd), many calls in flight, the process
// exiting by itself after close().

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');

const { openFastTransport } = require('../lib/transports/fast');
const { Cluster, useFastCluster, waitFor } = require('./fast-support/cluster');

const KiB = 1024;
const MiB = 1024 * KiB;

function asciiText(size) {
  const line = 'The quick brown fox jumps over the lazy dog 0123456789.\n';
  return line.repeat(Math.ceil(size / line.length)).slice(0, size);
}

// UTF-8 of exactly `size` bytes mixing 1-, 2-, 3- and 4-byte characters.
function unicodeText(size) {
  const unit = 'aé€😀'; // 1 + 2 + 3 + 4 bytes
  let text = unit.repeat(Math.floor(size / 10));
  while (Buffer.byteLength(text) < size) text += 'x';
  return text;
}

function bytes(size) {
  const buffer = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 31 + 7) & 0xff;
  return buffer;
}

describe('fast transport', { timeout: 120000 }, () => {
  const fast = useFastCluster({ workers: 2 });

  for (const size of [0, KiB, MiB, 10 * MiB]) {
    it(`round-trips ${size} bytes of ASCII text`, async () => {
      const text = asciiText(size);
      assert.equal(await fast.transport.call('echo', text, { timeoutMs: 30000 }), text);
    });

    it(`round-trips ${size} bytes of non-ASCII text`, async () => {
      const text = unicodeText(size);
      const result = await fast.transport.call('echo', text, { timeoutMs: 30000 });
      assert.equal(typeof result, 'string');
      assert.equal(result, text);
    });

    it(`round-trips a ${size}-byte Buffer`, async () => {
      const payload = bytes(size);
      const result = await fast.transport.call('echo', payload, { timeoutMs: 30000 });
      assert.ok(Buffer.isBuffer(result));
      assert.ok(result.equals(payload));
    });
  }

  it('returns the kind asked for with `as`', async () => {
    assert.equal(await fast.transport.call('echo', Buffer.from('héllo'), { as: 'string' }), 'héllo');
    const asBuffer = await fast.transport.call('echo', 'héllo', { as: 'buffer' });
    assert.ok(Buffer.isBuffer(asBuffer));
    assert.equal(asBuffer.toString(), 'héllo');
  });

  it('decodes invalid UTF-8 as V8 does, with replacement characters', async () => {
    const invalid = Buffer.from([0x61, 0xff, 0x62, 0xc3]);
    assert.equal(await fast.transport.call('echo', invalid, { as: 'string' }), invalid.toString());
  });

  it('answers 5,000 concurrent calls, each with its own result, across both workers', async () => {
    const payloads = Array.from({ length: 5000 }, (_, i) => `call ${i} ${'x'.repeat(i % 97)}`);
    const results = await fast.transport.callMany('echo', payloads, { timeoutMs: 60000 });
    assert.deepEqual(results, payloads);
  });

  it('mixes sizes in flight at once (inline, segment and one-off)', async () => {
    const payloads = [];
    for (let i = 0; i < 60; i++) payloads.push(asciiText([100, 20 * KiB, 3 * MiB][i % 3] + i));
    const results = await Promise.all(payloads.map((p) => fast.transport.call('echo', p, { timeoutMs: 60000 })));
    results.forEach((result, i) => assert.equal(result, payloads[i]));
  });

  it('fails a method no worker serves with the daemon\'s FASTMD_METHOD_NOT_FOUND naming what is served', async () => {
    for (let attempt = 0; attempt < 2; attempt++) { // the second fails from the session's answer
      await assert.rejects(fast.transport.call('no-such-method', 'x'), {
        code: 'FASTMD_METHOD_NOT_FOUND',
        message: "no worker serves method 'no-such-method' (served: echo, length, transform)",
      });
    }
    assert.equal(await fast.transport.call('echo', 'still here'), 'still here');
  });

  // The event loop watches each channel itself (native/loop_poll_set.hpp): an epoll set of the
  // core's inside libuv's would cost a second wake-up per call.
  it('waits on its channels through Node\'s event loop, with no epoll set of its own',
    { skip: process.platform !== 'linux' && 'epoll sets are Linux\'s' }, async () => {
      const epollSets = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
        try { return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventpoll]'; } catch { return false; }
      }).length;
      const before = epollSets();
      const second = await openFastTransport({ socket: fast.cluster.socket });
      try {
        await waitFor(() => second.workers.length === 2, 10000, 'both workers to be introduced');
        const payloads = Array.from({ length: 200 }, (_, i) => `call ${i}`);
        assert.deepEqual(await Promise.all(payloads.map((p) => second.call('echo', p))), payloads);
        assert.equal(epollSets(), before);
      } finally {
        await second.close();
      }
    });
});

describe('fast transport without a daemon', () => {
  it('fails with FASTMD_DAEMON_UNREACHABLE', async () => {
    const socket = path.join(require('node:os').tmpdir(), `fastmd-absent-${process.pid}.sock`);
    await assert.rejects(openFastTransport({ socket }), (error) => {
      assert.equal(error.code, 'FASTMD_DAEMON_UNREACHABLE');
      return true;
    });
  });
});

describe('process lifetime', { timeout: 60000 }, () => {
  it('exits by itself after close()', async () => {
    const cluster = new Cluster();
    try {
      await cluster.startDaemon();
      cluster.startWorker();
      const script = `
        const { openFastTransport } = require(${JSON.stringify(path.resolve(__dirname, '../lib/transports/fast'))});
        (async () => {
          const t = await openFastTransport({ socket: ${JSON.stringify(cluster.socket)} });
          const out = await t.call('echo', 'ping', { timeoutMs: 10000 });
          await t.close();
          process.stdout.write(out);
        })().catch((e) => { console.error(e); process.exit(3); });`;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (chunk) => { output += chunk; });
      const code = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('the client process did not exit within 20 s after close()'));
        }, 20000);
        child.on('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      assert.equal(code, 0);
      assert.equal(output, 'ping');
    } finally {
      await cluster.stop();
    }
  });
});
