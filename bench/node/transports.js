'use strict';
// bench/node/transports.js — the Node client's side: @fastmd/ipc over the legacy NDJSON
// transport and the fast transport (a private fastmd-ipcd, fastmd-worker-md; at the defaults,
// with adaptive spin on both sides; with no spin; with both sides spinning 200 µs every wait,
// and with only the client spinning), the Markdown corpus over
// each (1 and 2 workers; legacy and fast also scaled to 1…N workers, N = --max-workers, by
// default the machine's cores), and markdown-it in process.
// Prints one JSON row per line on stdout (the shape of bench/results/latest.json); progress on
// stderr.
//
//   node bench/node/transports.js [--quick] [--bin-dir DIR] [--max-workers N] [--fast-only] [--sdk DIR]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { PerformanceObserver } = require('node:perf_hooks');

const { percentiles, measure, costs, countSyscalls, emit, progress } = require('./report');
const { gatherCorpus, corpusSeries } = require('./corpus');
const { parseStepArgs } = require('./step-args');
const { PrivateDaemon, stopChildren, waitForWorkers } = require('./daemon');

const ROOT = path.resolve(__dirname, '..', '..');
/** @fastmd/ipc, from --sdk (loaded by main, so requiring this file for its helpers loads none). */
let ipc = null;

const SIZES = [64, 1024, 64 * 1024, 1024 * 1024, 10 * 1024 * 1024];
const BATCH = 4096;
const SPIN_US = 200;
// The fast transports: name, fastmd-worker-md's arguments, the client's spinUs (undefined:
// the default).
const FAST_TRANSPORTS = [
  ['fast', [], undefined], // the defaults: both sides spin as they learn (adaptive)
  ['fast-nospin', ['--spin-us', '0'], 0], // neither side spins
  ['fast-spin', ['--spin-us', String(SPIN_US)], SPIN_US], // both sides poll before sleeping
  ['fast-client-spin', ['--spin-us', '0'], SPIN_US], // only the Node client polls; the worker sleeps
];

// The transports whose corpus rows scale to every core; the spinning ones keep 1 and 2 workers.
const SCALED = new Set(['legacy', 'fast']);

/** The worker counts of `transport`'s corpus rows: 1 and 2, and for SCALED up to maxWorkers. */
function workerCounts(transport, maxWorkers) {
  const top = SCALED.has(transport) ? Math.max(2, maxWorkers) : 2;
  return Array.from({ length: top }, (_, i) => i + 1);
}

function roundTrips(size, quick) {
  const full = size <= 1024 ? 20000 : size <= 64 * 1024 ? 5000 : size <= 1024 * 1024 ? 300 : 40;
  return quick ? Math.max(10, Math.floor(full / 10)) : full;
}

/** ASCII text, the same bytes the C++ benchmark sends. */
function textPayload(size) {
  const words = 'the quick brown fox jumps over the lazy dog 0123456789 ';
  return words.repeat(Math.ceil(size / words.length)).slice(0, size);
}

async function latencySeries(client, transport, pids, payload, iterations, kind) {
  const warmup = Math.min(Math.floor(iterations / 10) + 1, 100);
  for (let i = 0; i < warmup; i++) await client.call('echo', payload);
  const samples = new Float64Array(iterations);
  // V8's collections during the series (what --trace-gc prints, counted): large results are
  // external memory, which paces the GCs.
  let collections = 0;
  const gcs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
  gcs.observe({ entryTypes: ['gc'] });
  const m = await measure(pids, async () => {
    for (let i = 0; i < iterations; i++) {
      const start = process.hrtime.bigint();
      const result = await client.call('echo', payload);
      samples[i] = Number(process.hrtime.bigint() - start);
      if (result.length !== payload.length) throw new Error(`echo returned ${result.length} of ${payload.length} bytes`);
    }
  });
  // Entries of GCs that ended in the series are delivered on a later tick.
  await new Promise((resolve) => setImmediate(resolve));
  gcs.disconnect();
  const p = percentiles(samples);
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const row = { client: 'node', transport, method: 'echo', payload_kind: kind, payload_bytes: bytes, ...p,
    msgs_per_s: iterations / (m.totalNs / 1e9), iterations, ...costs(m, iterations),
    gc_per_100_calls: (100 * collections) / iterations };
  if (bytes >= 64 * 1024) row.gb_per_s = bytes / (p.p50_us * 1e3);
  emit(row);
}

/** Sizes of the callMany rows: the pipelined 64 B, and 1 KiB for the CPU per call. */
const PIPELINED_SIZES = [64, 1024];

async function throughputSeries(client, transport, pids, count, size) {
  const payloads = new Array(BATCH).fill(textPayload(size));
  const series = async () => {
    for (let done = 0; done < count; done += BATCH) await client.callMany('echo', payloads);
  };
  await client.callMany('echo', payloads);
  const m = await measure(pids, series);
  const calls = Math.ceil(count / BATCH) * BATCH;
  // Counted in a second pass of the same series, so that perf's tracing cannot slow the first.
  const counted = await countSyscalls([process.pid, ...pids], series);
  const syscalls = counted.missing ? { syscalls_missing: counted.missing } : { syscalls_per_msg: counted.syscalls / calls };
  emit({ client: 'node', transport, method: 'echo', payload_bytes: size, msgs_per_s: calls / (m.totalNs / 1e9),
    iterations: calls, note: 'callMany, batches of 4096 in flight; syscalls of client and worker counted by perf in a second pass',
    ...costs(m, calls), ...syscalls });
}

async function transportRows(client, transport, pids, quick) {
  for (const size of SIZES) {
    progress(`node ${transport}: echo ${size} B (string)`);
    await latencySeries(client, transport, pids, textPayload(size), roundTrips(size, quick), 'string');
  }
  for (const size of SIZES.filter((s) => s >= 1024 * 1024)) {
    progress(`node ${transport}: echo ${size} B (Buffer)`);
    await latencySeries(client, transport, pids, Buffer.from(textPayload(size)), roundTrips(size, quick), 'buffer');
  }
  for (const size of PIPELINED_SIZES) {
    progress(`node ${transport}: callMany ${size} B`);
    const count = size <= 64 ? 500000 : 200000;
    await throughputSeries(client, transport, pids, quick ? count / 10 : count, size);
  }
}

/** `workers` fastmd-worker-md with `args` and a client with `spinUs`, for `use(client, pids)`. */
async function withFastClient(daemon, workers, args, spinUs, use) {
  const children = daemon.startWorkers(workers, args);
  const client = await ipc.connect({ transport: 'fast', socket: daemon.socket, spinUs });
  try {
    await waitForWorkers(client, workers);
    await use(client, children.map((c) => c.pid));
  } finally {
    await client.close();
    await stopChildren(children);
  }
}

/**
 * md4c-html in process from C++ (fastmd-bench-md4c, one thread) on `corpus`, as the row
 * `md4c-beside`: run right after the fast transport's 1-worker corpus row, so the ratio of
 * the two (issue 13's "one worker ≥ 85% of md4c in process") compares measurements seconds
 * apart. The md4c step at the start of bench/run is minutes away from the Node rows, and this
 * VM's speed drifted between them: 10,522 files/s there against 12,069 for the fast row after
 * it (a ratio of 1.15) while run back to back the two gave 0.63–0.80 (docs/performance.md).
 */
function md4cBeside(binDir, corpus, quick) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-md4c-beside-'));
  try {
    const list = path.join(dir, 'files.txt');
    fs.writeFileSync(list, `${corpus.files.map((f) => f.path).join('\n')}\n`);
    const out = execFileSync(path.join(binDir, 'fastmd-bench-md4c'),
      ['--files-from', list, '--max-threads', '1', ...(quick ? ['--quick'] : [])],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
      const row = JSON.parse(line);
      emit({ ...row, transport: 'md4c-beside',
        note: `${row.note}; run right after the fast 1-worker corpus row, for the ratio to it` });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The fast transport's echo series and callMany with one worker, nothing else. */
async function fastEchoRows(binDir, quick) {
  const daemon = await PrivateDaemon.start(binDir);
  try {
    await withFastClient(daemon, 1, [], undefined, (client, pids) => {
      progress(`node fast: the client's platform layer is ${client.transportInfo.platform?.name}`);
      return transportRows(client, 'fast', pids, quick);
    });
  } finally {
    await daemon.stop();
  }
}

async function main() {
  const { quick, binDir, maxWorkers, fastOnly, sdk } = parseStepArgs(process.argv.slice(2), __filename, {
    about: 'The Node client over legacy NDJSON and the fast path (echo sizes, callMany, the Markdown\n' +
      'corpus with 1..N workers) and markdown-it in process: one JSON row per line on stdout.',
    takes: ['quick', 'binDir', 'maxWorkers', 'fastOnly', 'sdk'],
  });
  ipc = require(sdk);
  if (fastOnly) {
    await fastEchoRows(binDir, quick);
    return;
  }
  const workerMd = path.join(binDir, 'fastmd-worker-md');
  const corpus = gatherCorpus(ROOT);
  const rounds = quick ? 1 : 5;
  progress(`node: corpus of ${corpus.files.length} files, ${corpus.bytes} bytes`);

  for (const workers of workerCounts('legacy', maxWorkers)) {
    const legacy = await ipc.connect({ transport: 'legacy', workerCommand: workerMd, workers });
    const pids = legacy.workers.map((w) => w.pid);
    if (workers === 1) await transportRows(legacy, 'legacy', pids, quick);
    progress(`node legacy: Markdown corpus, ${workers} worker(s)`);
    await corpusSeries((text) => legacy.transform(text), 'legacy', pids, corpus, rounds, workers);
    await legacy.close();
  }

  const daemon = await PrivateDaemon.start(binDir);
  try {
    for (const [transport, args, spinUs] of FAST_TRANSPORTS) {
      for (const workers of workerCounts(transport, maxWorkers)) {
        await withFastClient(daemon, workers, args, spinUs, async (client, pids) => {
          if (workers === 1) await transportRows(client, transport, pids, quick);
          progress(`node ${transport}: Markdown corpus, ${workers} worker(s)`);
          await corpusSeries((text) => client.transform(text), transport, pids, corpus, rounds, workers);
        });
        if (transport === 'fast' && workers === 1) {
          progress('md4c in process (C++), right after the fast 1-worker corpus row');
          md4cBeside(binDir, corpus, quick);
        }
      }
    }
  } finally {
    await daemon.stop();
  }

  progress('node markdown-it: Markdown corpus in process');
  const md = require('markdown-it')();
  await corpusSeries(async (text) => md.render(text), 'markdown-it', [], corpus, rounds, 0);
}

if (require.main === module) {
  main().catch((error) => {
    progress(`bench/node/transports.js: ${error.stack ?? error}`);
    process.exit(1);
  });
}

module.exports = { FAST_TRANSPORTS, latencySeries, roundTrips, textPayload };
