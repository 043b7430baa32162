'use strict';
// A worker built on run_worker_main() from portable code only (fastmd-test-stdio-worker),
// over the legacy transport: round trips of every kind, load over two workers, errors,
// deadlines, a worker killed under load, and the worker's own exit at the end of its input.
// By default it runs the Linux build. scripts/test --platform windows runs this same file
// against the Windows build of that worker, cross-compiled with MinGW-w64 and run under Wine:
// env FASTMD_TEST_STDIO_WORKER holds that worker's argv as JSON, without --stdio.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const { after, before, describe, it } = require('node:test');

const { connect, FastmdError } = require('..');
const { binary } = require('./support/env');
const { killWorkerUnderLoad } = require('./support/legacy-kill');

/** The worker's argv without --stdio: the Windows build under Wine, or this build's. */
const workerArgv = process.env.FASTMD_TEST_STDIO_WORKER
  ? JSON.parse(process.env.FASTMD_TEST_STDIO_WORKER)
  : [binary('fastmd-test-stdio-worker')];
const workerCommand = [...workerArgv, '--stdio'];
const onWindows = workerArgv.some((arg) => arg.endsWith('.exe'));
// Wine starts a process in about half a second; deadlines leave room for it.
const timeoutMs = 60000;

/**
 * Runs the worker's own command line, with a daemon socket that does not exist and without
 * INVOCATION_ID (under systemd the worker would wait for a daemon); resolves with
 * {code, stdout, stderr}.
 */
function runWorker(args, input = '') {
  const { INVOCATION_ID: _underSystemd, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(workerArgv[0], [...workerArgv.slice(1), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...env, FASTMD_IPC_SOCKET: '/nonexistent/fastmd-test.sock' },
    });
    const stdout = [];
    let stderr = '';
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${workerArgv.join(' ')} ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
    // A worker that exits without reading its input (--help, --version) may close the pipe
    // before this write: EPIPE then says nothing about the worker, whose exit code and
    // output are what the tests check.
    child.stdin.on('error', (error) => { if (error.code !== 'EPIPE') reject(error); });
    child.stdin.end(input);
  });
}

/** Every byte value, CR LF and Ctrl-Z among them (what a text-mode stream would mangle). */
function everyByte(bytes) {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = i % 256;
  return out;
}

describe(`the stdio test worker over the legacy transport (${onWindows ? 'Windows build, under Wine' : 'this build'})`, () => {
  let client;
  before(async () => {
    client = await connect({ transport: 'legacy', workerCommand, timeoutMs });
  });
  after(() => client.close());

  for (const [label, bytes] of [['0 B', 0], ['1 KiB', 1024], ['1 MiB', 1 << 20]]) {
    it(`echoes an ASCII string with CR LF line ends, ${label}`, async () => {
      const payload = 'line\r\n'.repeat(Math.ceil(bytes / 6)).slice(0, bytes);
      assert.equal(await client.call('echo', payload), payload);
    });
    it(`echoes a non-ASCII string, ${label}`, async () => {
      const unit = 'héllo wörld ✓ 日本 \u{1F600}\n';
      const payload = unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)));
      assert.equal(await client.call('echo', payload), payload);
    });
    it(`echoes a Buffer of every byte value, ${label}`, async () => {
      const payload = everyByte(bytes);
      const result = await client.call('echo', payload);
      assert.ok(Buffer.isBuffer(result));
      assert.ok(result.equals(payload));
    });
  }

  it('fails a throwing handler with FASTMD_HANDLER_FAILED and its message', async () => {
    await assert.rejects(client.call('fail', 'the handler said no'), (error) =>
      error instanceof FastmdError && error.code === 'FASTMD_HANDLER_FAILED' && error.message === 'the handler said no');
  });

  it('fails an unknown method with FASTMD_METHOD_NOT_FOUND naming what it serves', async () => {
    await assert.rejects(client.call('no-such-method', 'x'), {
      code: 'FASTMD_METHOD_NOT_FOUND',
      message: "no worker serves method 'no-such-method' (served: echo, fail, sleep)",
    });
  });

  it('fails a call past its deadline with FASTMD_TIMEOUT and keeps working', async () => {
    await assert.rejects(client.call('sleep', '3000', { timeoutMs: 50 }), { code: 'FASTMD_TIMEOUT' });
    assert.equal(await client.call('echo', 'after'), 'after');
  });
});

describe(`the stdio test worker under load (${onWindows ? 'Windows build, under Wine' : 'this build'})`, () => {
  it('answers 2,000 concurrent calls over two workers, each with its own result', async () => {
    const client = await connect({ transport: 'legacy', workerCommand, workers: 2, timeoutMs });
    try {
      const payloads = Array.from({ length: 2000 }, (_, i) => `call ${i}\r\n`.repeat(1 + (i % 50)));
      const results = await Promise.all(payloads.map((payload) => client.call('echo', payload)));
      assert.deepEqual(results, payloads);
      assert.deepEqual(await client.callMany('echo', payloads.slice(0, 500)), payloads.slice(0, 500));
    } finally {
      await client.close();
    }
  });

  it('answers every idempotent call exactly once when a worker is killed, from a restarted one', () =>
    killWorkerUnderLoad(workerCommand, 1000));
});

describe(`the stdio test worker's command line (${onWindows ? 'Windows build, under Wine' : 'this build'})`, () => {
  it('answers what it read and exits with 0 at the end of its input', async () => {
    const requests = [1, 2, 3].map((id) => `${JSON.stringify({ version: 1, id, type: 'request', method: 'echo', params: `r${id}\r\n` })}\n`);
    const { code, stdout, stderr } = await runWorker(['--stdio'], requests.join(''));
    assert.equal(code, 0, stderr);
    // Binary output: each response ends in "\n" alone, never "\r\n".
    const lines = stdout.toString('utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(lines.map((line) => JSON.parse(line)).map(({ id, result }) => [id, result]).sort(),
      [[1, 'r1\r\n'], [2, 'r2\r\n'], [3, 'r3\r\n']]);
  });

  it('prints its help and version', async () => {
    const help = await runWorker(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout.toString(), /--stdio/);
    assert.match(help.stdout.toString(), /Methods: echo/);
    const version = await runWorker(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout.toString(), /^fastmd-test-stdio-worker \d+\.\d+\.\d+/);
  });

  it('fails at once with DAEMON_UNREACHABLE without --stdio, saying why', async () => {
    const { code, stderr } = await runWorker([]);
    assert.equal(code, 1);
    if (onWindows) {
      assert.match(stderr, /DAEMON_UNREACHABLE: this build of fastmd-ipc has no fast path \(FASTMD_PLATFORM=windows\).*run the worker with --stdio/);
    } else {
      assert.match(stderr, /DAEMON_UNREACHABLE: cannot connect to \/nonexistent\/fastmd-test\.sock/);
    }
  });
});
