'use strict';
// bench/node/cold-start.js — what the first call costs when nothing runs yet, from Node:
//   - the first call to an on-demand pool: the daemon is up, no worker runs, and the call waits
//     while the daemon starts one (ipc.want, PROTOCOL.md §3.9);
//   - a per-user daemon's cold start: nothing configured and nothing running; connect() starts
//     `fastmd-ipcd --user` and the first call starts its pool worker (docs/operations.md,
//     "The per-user daemon").
// Each run starts from scratch (a fresh daemon, a fresh runtime directory), so the samples are
// few; p99 is the slowest of them. Prints one JSON row per line on stdout; progress on stderr.
//
//   node bench/node/cold-start.js [--quick] [--bin-dir DIR]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const { percentiles, emit, progress } = require('./report');
const { PrivateDaemon } = require('./daemon');
const { parseStepArgs } = require('./step-args');

const ROOT = path.resolve(__dirname, '..', '..');
const ipc = require(path.join(ROOT, 'sdk-node'));

const MARKDOWN = '# Cold start\n\nThe *first* call.\n';


/** A config with one on-demand pool of fastmd-worker-md; methods declared, so none starts early. */
function onDemandPool(binDir) {
  return [
    '[[pool]]',
    'name = "markdown"',
    `command = [${JSON.stringify(path.join(binDir, 'fastmd-worker-md'))}]`,
    'methods = ["transform", "echo", "length"]',
    'start = "on-demand"',
    '',
  ].join('\n');
}

async function timed(body) {
  const start = process.hrtime.bigint();
  await body();
  return Number(process.hrtime.bigint() - start);
}

function row(samplesNs, note) {
  return { client: 'node', transport: 'fast', method: 'transform', payload_bytes: Buffer.byteLength(MARKDOWN),
    ...percentiles(Float64Array.from(samplesNs)), iterations: samplesNs.length, cold_start: true, note };
}

async function firstCallToOnDemandPool(binDir, runs) {
  const first = [];
  const warm = [];
  for (let run = 0; run < runs; run++) {
    const daemon = await PrivateDaemon.start(binDir, onDemandPool(binDir));
    try {
      const client = await ipc.connect({ transport: 'fast', socket: daemon.socket });
      try {
        first.push(await timed(() => client.call('transform', MARKDOWN)));
        warm.push(await timed(() => client.call('transform', MARKDOWN)));
      } finally {
        await client.close();
      }
    } finally {
      await daemon.stop();
    }
  }
  emit(row(first, `first call to an on-demand pool: the daemon starts its worker (${runs} daemons)`));
  emit(row(warm, 'the call after it, same worker (for comparison)'));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the per-user daemon of `runtime` (SIGTERM, bounded wait) so the next run starts cold. */
async function stopUserDaemon(runtime) {
  const lock = path.join(runtime, 'fastmd', 'ipcd.sock.lock');
  if (!fs.existsSync(lock)) return;
  const pid = Number(fs.readFileSync(lock, 'utf8').trim());
  if (!(pid > 0) || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (alive(pid) && Date.now() < deadline) await sleep(10);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

async function perUserColdStart(binDir, runs) {
  const connects = [];
  const firstCalls = [];
  const saved = { ...process.env };
  try {
    // Nothing configured: no socket, no rollout; the daemon is found in FASTMD_BIN_DIR.
    delete process.env.FASTMD_IPC_SOCKET;
    delete process.env.FASTMD_IPC;
    delete process.env.FASTMD_IPC_ROLLOUT;
    process.env.FASTMD_BIN_DIR = binDir;
    for (let run = 0; run < runs; run++) {
      const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-bench-runtime-'));
      process.env.XDG_RUNTIME_DIR = runtime;
      try {
        let client;
        connects.push(await timed(async () => { client = await ipc.connect(); }));
        try {
          if (client.transport !== 'fast') throw new Error(`connect() chose ${client.transport}: ${client.transportInfo?.reason}`);
          firstCalls.push(await timed(() => client.call('transform', MARKDOWN)));
        } finally {
          await client.close();
        }
      } finally {
        await stopUserDaemon(runtime);
        fs.rmSync(runtime, { recursive: true, force: true });
      }
    }
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  emit({ ...row(connects, `per-user daemon cold start: connect() starts fastmd-ipcd --user (${runs} starts)`), method: 'connect' });
  emit(row(firstCalls, 'per-user daemon cold start: the first call then starts its pool worker'));
}

async function main() {
  const args = parseStepArgs(process.argv.slice(2), __filename, {
    about: 'What the first call costs from Node when nothing runs yet: the first call to an\n' +
      'on-demand pool, and a per-user daemon\'s cold start (one JSON row per line on stdout).',
    takes: ['quick', 'binDir'],
  });
  const runs = args.quick ? 3 : 10;
  progress('node cold start: first call to an on-demand pool');
  await firstCallToOnDemandPool(args.binDir, runs);
  progress('node cold start: per-user daemon');
  await perUserColdStart(args.binDir, runs);
}

main().catch((error) => {
  process.stderr.write(`bench/node/cold-start.js: ${error.stack}\n`);
  process.exit(1);
});
