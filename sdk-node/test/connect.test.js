'use strict';
// Choosing the transport: `auto` falls back to legacy with exactly one warning
// (FASTMD_FALLBACK) when no daemon can be reached, `fast` fails with the error's code, and
// `auto` takes the fast path when a daemon with a worker is there. Each case runs in a child
// process, so what it warns and whether it exits by itself are observed as a user would.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { describe, it } = require('node:test');
const { promisify } = require('node:util');

const { connect } = require('..');
const { binary, legacyWorker, runNode, tempDir } = require('./support/env');
const { Cluster } = require('./fast-support/cluster');
const { zeroConfigEnv } = require('./support/user-daemon');

const worker = JSON.stringify(legacyWorker());

describe('transport selection', () => {
  it('auto falls back to legacy with one FASTMD_FALLBACK warning when no daemon answers', async (t) => {
    const socket = path.join(tempDir(t), 'absent.sock');
    const { code, stdout, stderr } = await runNode({
      env: { FASTMD_IPC_SOCKET: socket, FASTMD_IPC: '' },
      script: `
        const { connect } = require('.');
        const warnings = [];
        process.on('warning', (w) => warnings.push(w.code));
        (async () => {
          const first = await connect({ workerCommand: ${worker} });
          const second = await connect({ transport: 'auto', workerCommand: ${worker} });
          console.log(JSON.stringify({ transports: [first.transport, second.transport],
            html: await first.transform('# x'), warnings }));
          await first.close();
          await second.close();
        })();`,
    });
    assert.equal(code, 0, stderr);
    const seen = JSON.parse(stdout);
    assert.deepEqual(seen.transports, ['legacy', 'legacy']);
    assert.equal(seen.html, '<h1>x</h1>\n');
    assert.deepEqual(seen.warnings.filter((c) => c === 'FASTMD_FALLBACK'), ['FASTMD_FALLBACK']);
    assert.match(stderr, /FASTMD_FALLBACK/);
    assert.match(stderr, /FASTMD_DAEMON_UNREACHABLE/);
  });

  it('fast never falls back: it fails with FASTMD_DAEMON_UNREACHABLE', async (t) => {
    const socket = path.join(tempDir(t), 'absent.sock');
    await assert.rejects(connect({ transport: 'fast', socket, workerCommand: legacyWorker() }),
      { code: 'FASTMD_DAEMON_UNREACHABLE', errno: 206 });
  });

  it('FASTMD_IPC=fast in the environment means fast, and fails the same way', async (t) => {
    const socket = path.join(tempDir(t), 'absent.sock');
    const { code, stdout } = await runNode({
      env: { FASTMD_IPC: 'fast', FASTMD_IPC_SOCKET: socket },
      script: `require('.').connect().then(() => console.log('connected'), (e) => console.log(e.code));`,
    });
    assert.equal(code, 0);
    assert.equal(stdout.trim(), 'FASTMD_DAEMON_UNREACHABLE');
  });

  it('FASTMD_IPC=legacy means legacy, without a warning', async () => {
    const { code, stdout, stderr } = await runNode({
      env: { FASTMD_IPC: 'legacy' },
      script: `require('.').connect({ workerCommand: ${worker} }).then(async (c) => { console.log(c.transport); await c.close(); });`,
    });
    assert.equal(code, 0);
    assert.equal(stdout.trim(), 'legacy');
    assert.doesNotMatch(stderr, /Warning/);
  });

  it('offers the same API from the ESM entry', async () => {
    const { code, stdout, stderr } = await runNode({
      args: ['--input-type=module', '-e', `
        import { connect, FastmdError, ERRNO } from '@fastmd/ipc';
        import core from '@fastmd/ipc';
        const client = await connect({ transport: 'legacy', workerCommand: ${worker} });
        console.log(client.transport, await client.transform('_esm_'), FastmdError === core.FastmdError, ERRNO.TIMEOUT);
        await client.close();`],
    });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'legacy <p><em>esm</em></p>\n true 302\n');
  });

  it('rejects an unknown transport name', async () => {
    await assert.rejects(connect({ transport: 'carrier-pigeon' }), TypeError);
  });

  it('fails with FASTMD_WORKER_UNAVAILABLE when the worker cannot be started', async (t) => {
    await assert.rejects(connect({ transport: 'legacy', workerCommand: [path.join(tempDir(t), 'no-such-worker')] }),
      { code: 'FASTMD_WORKER_UNAVAILABLE' });
  });

  it('auto names a bad FASTMD_IPCD_IDLE_EXIT_S when the per-user daemon it starts refuses it, and falls back', async (t) => {
    const runtime = tempDir(t, 'fastmd-runtime-');
    const { code, stdout, stderr } = await runNode({
      env: { ...zeroConfigEnv(runtime), FASTMD_IPCD_IDLE_EXIT_S: 'soon' },
      script: `
        const { connect } = require('.');
        connect().then(async (client) => {
          console.log(client.transport);
          await client.close();
        });`,
    });
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), 'legacy');
    assert.equal(stderr.match(/FASTMD_FALLBACK/g)?.length, 1, stderr);
    assert.match(stderr, /FASTMD_DAEMON_UNREACHABLE.*per-user .*fastmd-ipcd \(pid \d+\) exited at start/s);
    assert.match(stderr, /Value soon not in range 0 to 86400 \(from --idle-exit-s or \$FASTMD_IPCD_IDLE_EXIT_S\)/);
  });

  it('auto takes the fast path when a daemon with a worker answers, and exits after close()', async () => {
    const cluster = new Cluster();
    try {
      await cluster.startDaemon();
      cluster.startWorker();
      const { code, stdout, stderr } = await runNode({
        env: { FASTMD_IPC_SOCKET: cluster.socket, FASTMD_IPC: 'auto' },
        script: `
          const { connect } = require('.');
          (async () => {
            const client = await connect({ timeoutMs: 20000 });
            console.log(client.transport, JSON.stringify(await client.transform('*fast*')));
            await client.close();
          })();`,
      });
      assert.equal(code, 0, stderr);
      assert.equal(stdout.trim(), 'fast "<p><em>fast</em></p>\\n"');
      assert.doesNotMatch(stderr, /FASTMD_FALLBACK/);
    } finally {
      await cluster.stop();
    }
  });

  it('transportInfo.platform names the platform layer, as the daemon built with it reports its own; null on legacy', async () => {
    const cluster = new Cluster();
    try {
      await cluster.startDaemon();
      cluster.startWorker();
      const client = await connect({ transport: 'fast', socket: cluster.socket, timeoutMs: 20000 });
      const { platform } = client.transportInfo;
      await client.close();
      const { stdout } = await promisify(execFile)(binary('fastmd-ipcctl'),
        ['status', '--json', '--socket', cluster.socket], { timeout: 10000 });
      const daemon = JSON.parse(stdout).platform;
      // Built from one tree with one FASTMD_PLATFORM, the addon and the daemon share a layer.
      assert.deepEqual(platform, {
        name: daemon.name, memoryBacking: daemon.memory_backing, sealing: daemon.sealing,
        poller: daemon.poller, liveness: daemon.liveness, credentials: daemon.credentials,
      });
      assert.ok(Object.isFrozen(platform));
      assert.ok(['epoll', 'poll'].includes(platform.poller), platform.poller);
    } finally {
      await cluster.stop();
    }
    const legacy = await connect({ transport: 'legacy', workerCommand: legacyWorker() });
    try {
      assert.equal(legacy.transportInfo.platform, null);
    } finally {
      await legacy.close();
    }
  });
});
