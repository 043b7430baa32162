#!/usr/bin/env node
'use strict';
// bench/node/large-echo.js — issue 15's rows alone, side by side in one run: echo of 1 and
// 10 MiB over the fast transport (one fastmd-worker-md, 32 MiB segments as in bench/run) from
// the C++ client (`fastmd-bench-cpp --large-echo`) and from the Node client, with ASCII
// strings, two-byte strings ('Ж', two UTF-8 bytes per character) and Buffers. A round runs
// each client in a fresh process; with --compare, a second build of the Node SDK (e.g. the
// base commit's, for before/after) runs in each round too, alternating with this one, so
// both see the same load. Prints every row (JSON, one per line) and then the medians over the
// rounds with their ratios to the C++ rows.
//
//   node bench/node/large-echo.js [--rounds N] [--quick] [--bin-dir DIR] [--compare SDK_DIR]
//
// Rows carry `build`: "this" (this checkout's sdk-node), "compare" (SDK_DIR) or "cpp".

const path = require('node:path');
const { spawn } = require('node:child_process');
const readline = require('node:readline');

const { emit, progress } = require('./report');

const ROOT = path.resolve(__dirname, '..', '..');
const MiB = 1024 * 1024;
const SIZES = [MiB, 10 * MiB];
// Per series: enough calls for a p99 (the 10 MiB rows take ~5-10 ms a call).
const CALLS = { [MiB]: 500, [10 * MiB]: 100 };

function parseArgs(argv) {
  const args = { rounds: 3, quick: false, compare: null,
    binDir: process.env.FASTMD_BIN_DIR ?? path.join(ROOT, 'build', 'bin'), child: null };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === '--rounds') args.rounds = Number(value());
    else if (argv[i] === '--quick') args.quick = true;
    else if (argv[i] === '--bin-dir') args.binDir = path.resolve(value());
    else if (argv[i] === '--compare') args.compare = path.resolve(value());
    else if (argv[i] === '--child') args.child = path.resolve(value()); // internal: one Node round
    else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write('usage: node bench/node/large-echo.js [--rounds N] [--quick] [--bin-dir DIR] [--compare SDK_DIR]\n' +
        '  --rounds N         rounds of every client (default 3); medians are over them\n' +
        '  --quick            a tenth of the calls (a check that everything runs)\n' +
        '  --bin-dir DIR      fastmd-ipcd, fastmd-worker-md, fastmd-bench-cpp (default build/bin)\n' +
        '  --compare SDK_DIR  also run the Node SDK in SDK_DIR (its addon built), alternating\n');
      process.exit(0);
    } else fail(`unknown argument '${argv[i]}' (see --help)`);
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 1) fail('--rounds must be a whole number ≥ 1');
  return args;
}

function fail(message) {
  process.stderr.write(`large-echo: ${message}\n`);
  process.exit(2);
}

/** One round of the Node rows with the SDK in `sdkDir`, in this process. */
async function nodeRound(sdkDir, binDir, quick) {
  const ipc = require(sdkDir);
  const { latencySeries, textPayload } = require('./transports');
  const { PrivateDaemon, stopChildren, waitForWorkers } = require('./daemon');
  const daemon = await PrivateDaemon.start(binDir);
  const workers = daemon.startWorkers(1, []);
  try {
    const client = await ipc.connect({ transport: 'fast', socket: daemon.socket });
    await waitForWorkers(client, 1);
    const pids = workers.map((w) => w.pid);
    for (const size of SIZES) {
      const calls = quick ? CALLS[size] / 10 : CALLS[size];
      const payloads = {
        string: textPayload(size),
        'two-byte string': 'Ж'.repeat(size / 2),
        buffer: Buffer.from(textPayload(size)),
      };
      for (const [kind, payload] of Object.entries(payloads)) {
        progress(`node fast: echo ${size} B (${kind})`);
        await latencySeries(client, 'fast', pids, payload, calls, kind);
      }
    }
    await client.close();
  } finally {
    await stopChildren(workers);
    await daemon.stop();
  }
}

/** Runs a program whose stdout lines are rows; resolves with them, tagged with `build`. */
function rowsOf(build, command, argv) {
  return new Promise((resolve, reject) => {
    const rows = [];
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.trim()) rows.push({ build, ...JSON.parse(line) });
    });
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve(rows)
      : reject(new Error(`${path.basename(command)} ${argv.join(' ')} exited with ${signal ?? code}`))));
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Medians over the rounds of each build, payload kind and size, with ratios to C++. */
function summary(rows) {
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.build}|${row.payload_kind ?? 'string'}|${row.payload_bytes}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  const lines = ['| build | payload | p50 µs | p99 µs | client CPU µs/call | GCs /100 calls | client+worker faults /call | p50 / C++ | p99 / C++ | CPU / C++ |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  const cpp = {};
  for (const [key, group] of groups) {
    const [build, kind, bytes] = key.split('|');
    const m = (field) => median(group.map((r) => r[field] ?? 0));
    const stats = { p50: m('p50_us'), p99: m('p99_us'), cpu: m('client_cpu_us_per_req'),
      gc: m('gc_per_100_calls'), faults: m('minflt_per_req') };
    if (build === 'cpp') cpp[bytes] = stats;
    groups.set(key, { build, kind, bytes: Number(bytes), stats });
  }
  const order = { cpp: 0, compare: 1, this: 2 };
  const entries = [...groups.values()].sort((a, b) => a.bytes - b.bytes || order[a.build] - order[b.build] || a.kind.localeCompare(b.kind));
  for (const { build, kind, bytes, stats } of entries) {
    const base = cpp[bytes];
    const ratio = (v, b) => (base ? (v / b).toFixed(2) : '');
    lines.push(`| ${build} | ${bytes / MiB} MiB ${kind} | ${stats.p50.toFixed(0)} | ${stats.p99.toFixed(0)} | ` +
      `${stats.cpu.toFixed(0)} | ${stats.gc.toFixed(1)} | ${stats.faults.toFixed(0)} | ` +
      `${build === 'cpp' ? '' : ratio(stats.p50, base.p50)} | ${build === 'cpp' ? '' : ratio(stats.p99, base.p99)} | ` +
      `${build === 'cpp' ? '' : ratio(stats.cpu, base.cpu)} |`);
  }
  return lines.join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return nodeRound(args.child, args.binDir, args.quick);
  const quick = args.quick ? ['--quick'] : [];
  const node = (sdkDir) => [__filename, '--child', sdkDir, '--bin-dir', args.binDir, ...quick];
  const builds = [['this', path.join(ROOT, 'sdk-node')], ...(args.compare ? [['compare', args.compare]] : [])];
  const rows = [];
  for (let round = 0; round < args.rounds; round++) {
    // Alternate which build goes first, so neither always runs right after the C++ client.
    const ordered = round % 2 ? [...builds].reverse() : builds;
    progress(`round ${round + 1} of ${args.rounds}`);
    rows.push(...await rowsOf('cpp', path.join(args.binDir, 'fastmd-bench-cpp'), ['--large-echo', '--bin-dir', args.binDir, ...quick]));
    for (const [build, sdkDir] of ordered) rows.push(...await rowsOf(build, process.execPath, node(sdkDir)));
  }
  for (const row of rows) emit(row);
  process.stdout.write(`\n${summary(rows)}\n`);
}

main().catch((error) => {
  progress(`large-echo: ${error.stack ?? error}`);
  process.exit(1);
});
