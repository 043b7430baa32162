'use strict';
// bench/node/transports.js — the Node client's side: @fastmd/ipc over the legacy NDJSON
// transport and the fast transport (a private fastmd-ipcd, fastmd-worker-md; without spin,
// with both sides spinning, and with only the client spinning), the Markdown corpus over
// each (1 and 2 workers), and markdown-it in process.
// Prints one JSON row per line on stdout (the shape of bench/results/latest.json); progress on
// stderr.
//
//   node bench/node/transports.js [--quick] [--bin-dir DIR]

const path = require('node:path');
const { PerformanceObserver } = require('node:perf_hooks');

const { percentiles, processUsage, selfUsage, Usage, emit, progress } = require('./report');
const { gatherCorpus } = require('./corpus');
const { PrivateDaemon, stopChildren, waitForWorkers } = require('./daemon');

const ROOT = path.resolve(__dirname, '..', '..');
const ipc = require(path.join(ROOT, 'sdk-node'));

const SIZES = [64, 1024, 64 * 1024, 1024 * 1024, 10 * 1024 * 1024];
const BATCH = 4096;
const SPIN_US = 200;
// The fast transports: name, fastmd-worker-md's arguments, the client's spinUs.
const FAST_TRANSPORTS = [
  ['fast', [], 0],
  ['fast-spin', ['--spin-us', String(SPIN_US)], SPIN_US], // both sides poll before sleeping
  ['fast-client-spin', [], SPIN_US], // only the Node client polls; the worker sleeps
];

function roundTrips(size, quick) {
  const full = size <= 1024 ? 20000 : size <= 64 * 1024 ? 5000 : size <= 1024 * 1024 ? 300 : 40;
  return quick ? Math.max(10, Math.floor(full / 10)) : full;
}

/** ASCII text, the same bytes the C++ benchmark sends. */
function textPayload(size) {
  const words = 'the quick brown fox jumps over the lazy dog 0123456789 ';
  return words.repeat(Math.ceil(size / words.length)).slice(0, size);
}

/** Runs `body` and returns its wall time and the CPU time and faults of client and workers. */
async function measure(workerPids, body) {
  const before = selfUsage();
  const workersBefore = workerPids.map(processUsage);
  const start = process.hrtime.bigint();
  await body();
  const totalNs = Number(process.hrtime.bigint() - start);
  const client = selfUsage().minus(before);
  const worker = workerPids.map(processUsage).reduce((sum, now, i) => sum.plus(now.minus(workersBefore[i])), new Usage());
  return { totalNs, client, worker };
}

function costs(m, requests) {
  return {
    cpu_us_per_req: (m.client.cpuUs + m.worker.cpuUs) / requests,
    client_cpu_us_per_req: m.client.cpuUs / requests,
    worker_cpu_us_per_req: m.worker.cpuUs / requests,
    minflt_per_req: (m.client.minflt + m.worker.minflt) / requests,
  };
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

async function throughputSeries(client, transport, pids, count) {
  const payloads = new Array(BATCH).fill(textPayload(64));
  await client.callMany('echo', payloads);
  const m = await measure(pids, async () => {
    for (let done = 0; done < count; done += BATCH) await client.callMany('echo', payloads);
  });
  const calls = Math.ceil(count / BATCH) * BATCH;
  emit({ client: 'node', transport, method: 'echo', payload_bytes: 64, msgs_per_s: calls / (m.totalNs / 1e9),
    iterations: calls, note: 'callMany, batches of 4096 in flight', ...costs(m, calls) });
}

async function corpusSeries(transform, transport, pids, corpus, rounds, workers) {
  // One whole round first: markdown-it's JIT needs it (its first round is ~5x slower), and the
  // workers' allocators and the shared memory are warm the same way.
  await Promise.all(corpus.files.map((f) => transform(f.text)));
  const m = await measure(pids, async () => {
    for (let round = 0; round < rounds; round++) {
      // Every file in flight at once, as a tool converting a tree would send them.
      const html = await Promise.all(corpus.files.map((f) => transform(f.text)));
      if (html.length !== corpus.files.length) throw new Error('a file went missing');
    }
  });
  const files = corpus.files.length * rounds;
  emit({ client: 'node', transport, method: 'transform', payload_bytes: corpus.bytes, workers,
    files_per_s: files / (m.totalNs / 1e9), mb_per_s: (corpus.bytes * rounds) / 1e6 / (m.totalNs / 1e9),
    gb_per_s: (corpus.bytes * rounds) / m.totalNs, iterations: files,
    note: `Markdown corpus: ${corpus.files.length} files, ${corpus.bytes} bytes`, ...costs(m, files) });
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
  progress(`node ${transport}: callMany 64 B`);
  await throughputSeries(client, transport, pids, quick ? 50000 : 500000);
}

async function main() {
  const quick = process.argv.includes('--quick');
  const binFlag = process.argv.indexOf('--bin-dir');
  const binDir = path.resolve(binFlag > 0 ? process.argv[binFlag + 1] : process.env.FASTMD_BIN_DIR ?? path.join(ROOT, 'build', 'bin'));
  const workerMd = path.join(binDir, 'fastmd-worker-md');
  const corpus = gatherCorpus(ROOT);
  const rounds = quick ? 1 : 5;
  progress(`node: corpus of ${corpus.files.length} files, ${corpus.bytes} bytes`);

  for (const workers of [1, 2]) {
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
      for (const workers of [1, 2]) {
        const children = daemon.startWorkers(workers, args);
        const client = await ipc.connect({ transport: 'fast', socket: daemon.socket, spinUs });
        try {
          await waitForWorkers(client, workers);
          const pids = children.map((c) => c.pid);
          if (workers === 1) await transportRows(client, transport, pids, quick);
          progress(`node ${transport}: Markdown corpus, ${workers} worker(s)`);
          await corpusSeries((text) => client.transform(text), transport, pids, corpus, rounds, workers);
        } finally {
          await client.close();
          await stopChildren(children);
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

module.exports = { latencySeries, roundTrips, textPayload };
