#!/usr/bin/env node
'use strict';
// fastmd-transform: Markdown files, directory trees or stdin to HTML through fastmd's worker
// processes. With the fast transport it uses the system fastmd-ipcd when one answers, else it
// starts a private daemon on a temporary socket and N workers for the run (the embedded
// default); with the legacy transport it starts N workers with --stdio. It prints a summary:
// files, bytes in and out, time, throughput, transport.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { connect } = require('../lib/index');
const { findBinary } = require('../lib/binaries');

const USAGE = `Usage: fastmd-transform [options] [INPUT...]

Transforms Markdown to HTML with fastmd workers. An INPUT is a file, a directory (its
*.md and *.markdown files, recursively) or '-' for stdin (the default). One file or stdin
without --out prints the HTML to stdout; directories and several inputs need --out, where
each tree is mirrored with .html names.

Options:
  --out DIR           write the HTML files under DIR
  --workers N         worker processes to start (default: ${defaultWorkers()})
  --transport T       auto (default, or env FASTMD_IPC), fast or legacy
  --socket PATH       fastmd-ipcd to use (default: env FASTMD_IPC_SOCKET, then the system path)
  --quiet             no progress bar and no summary
  --help              this text

Executables come from FASTMD_BIN_DIR, the repository's build/bin, or PATH.
`;

const MARKDOWN_EXTENSIONS = new Set(['.md', '.markdown']);
const DAEMON_START_MS = 5000;
const STOP_GRACE_MS = 3000;
// A long run: worth a progress bar on a terminal.
const PROGRESS_MIN_FILES = 200;

function defaultWorkers() {
  return Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));
}

class UsageError extends Error {}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        workers: { type: 'string' },
        transport: { type: 'string' },
        socket: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  const { values, positionals } = parsed;
  const workers = values.workers === undefined ? defaultWorkers() : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new UsageError(`--workers must be an integer from 1 to 256 (got ${values.workers})`);
  }
  const transport = values.transport ?? (process.env.FASTMD_IPC || 'auto');
  if (!['auto', 'fast', 'legacy'].includes(transport)) {
    throw new UsageError(`--transport must be auto, fast or legacy (got ${transport})`);
  }
  return { ...values, workers, transport, inputs: positionals.length ? positionals : ['-'] };
}

// ---------------------------------------------------------------------------------------
// What to transform: [{source, target}] (source '-' is stdin; target null is stdout)

function walk(dir, rel, out) {
  const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const relative = path.join(rel, entry.name);
    if (entry.isDirectory()) walk(dir, relative, out);
    else if (entry.isFile() && MARKDOWN_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) out.push(relative);
  }
}

function htmlName(file) {
  const ext = path.extname(file);
  return `${MARKDOWN_EXTENSIONS.has(ext.toLowerCase()) ? file.slice(0, -ext.length) : file}.html`;
}

function planJobs(inputs, outDir) {
  const jobs = [];
  for (const input of inputs) {
    if (input === '-') {
      jobs.push({ source: '-', target: outDir ? path.join(outDir, 'stdin.html') : null });
      continue;
    }
    let stat;
    try {
      stat = fs.statSync(input);
    } catch (error) {
      throw new UsageError(`cannot read ${input}: ${error.code === 'ENOENT' ? 'no such file or directory' : error.message}`);
    }
    if (stat.isDirectory()) {
      if (!outDir) throw new UsageError(`${input} is a directory: say where its HTML goes with --out DIR`);
      const files = [];
      walk(input, '', files);
      for (const file of files) jobs.push({ source: path.join(input, file), target: path.join(outDir, htmlName(file)) });
    } else {
      jobs.push({ source: input, target: outDir ? path.join(outDir, htmlName(path.basename(input))) : null });
    }
  }
  if (!outDir && jobs.length > 1) throw new UsageError('several inputs need --out DIR');
  return jobs;
}

// ---------------------------------------------------------------------------------------
// The workers: the system daemon, a private daemon, or legacy children

/** Starts a process whose stderr is kept for error messages; never keeps the loop alive. */
function startChild(file, args) {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    child.stderrTail = (child.stderrTail + text).slice(-2000);
  });
  child.on('error', () => {}); // reported by the exit checks below
  return child;
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A private fastmd-ipcd on a temporary socket and `count` workers registered with it. */
class PrivateCluster {
  constructor(count) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-transform-'));
    this.socket = path.join(this.dir, 'ipcd.sock');
    this.daemon = startChild(findBinary('fastmd-ipcd', 'DAEMON_UNREACHABLE'), ['--socket', this.socket]);
    this.workerBinary = findBinary('fastmd-worker-md');
    this.count = count;
    this.workers = [];
  }

  async start() {
    const deadline = Date.now() + DAEMON_START_MS;
    while (!fs.existsSync(this.socket)) {
      if (this.daemon.exitCode !== null || this.daemon.pid === undefined || Date.now() > deadline) {
        throw new Error(`the private fastmd-ipcd did not start: ${this.daemon.stderrTail.trim() || 'no socket after 5 s'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (let i = 0; i < this.count; i++) {
      this.workers.push(startChild(this.workerBinary, ['--socket', this.socket, '--name', `fastmd-transform-${i + 1}`]));
    }
  }

  async stop() {
    await Promise.all(this.workers.map(stopChild));
    await stopChild(this.daemon);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Connects as --transport says; returns {client, cluster, where}. */
async function openWorkers(options) {
  if (options.transport === 'legacy') {
    const client = await connect({ transport: 'legacy', workers: options.workers });
    return { client, cluster: null, where: `${options.workers} worker process(es) over stdio` };
  }
  try {
    const client = await connect({ transport: 'fast', socket: options.socket, handshakeTimeoutMs: 500 });
    return { client, cluster: null, where: `the fastmd-ipcd at ${options.socket ?? process.env.FASTMD_IPC_SOCKET ?? 'the system socket'}` };
  } catch (error) {
    if (error.code === 'FASTMD_ADDON_UNAVAILABLE' || options.socket) {
      if (options.transport === 'fast') throw error;
      return fallBack(options);
    }
  }
  let cluster;
  try {
    cluster = new PrivateCluster(options.workers);
    await cluster.start();
  } catch (error) {
    await cluster?.stop();
    if (options.transport === 'fast') throw error;
    return fallBack(options);
  }
  try {
    const client = await connect({ transport: options.transport, socket: cluster.socket, workers: options.workers });
    if (client.transport === 'legacy') {
      await cluster.stop();
      return { client, cluster: null, where: `${options.workers} worker process(es) over stdio` };
    }
    return { client, cluster, where: `a private fastmd-ipcd with ${options.workers} worker(s)` };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

// auto, and the fast path cannot work here: connect() warns once and uses legacy workers.
async function fallBack(options) {
  const client = await connect({ transport: 'auto', socket: options.socket, workers: options.workers, handshakeTimeoutMs: 500 });
  return { client, cluster: null, where: `${options.workers} worker process(es) over stdio` };
}

// ---------------------------------------------------------------------------------------
// The run

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

class Progress {
  constructor(total, enabled) {
    this.total = total;
    this.enabled = enabled && total >= PROGRESS_MIN_FILES;
    this.done = 0;
    this.bytes = 0;
    this.timer = null;
    if (this.enabled) {
      this.draw();
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
  }

  advance(bytes) {
    this.done++;
    this.bytes += bytes;
  }

  draw() {
    const width = 30;
    const filled = Math.round((this.done / this.total) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.done}/${this.total} files, ${formatBytes(this.bytes)}`);
  }

  finish() {
    if (!this.enabled) return;
    clearInterval(this.timer);
    process.stderr.write(`\r${' '.repeat(70)}\r`);
  }
}

/** Transforms every job with a bounded window in flight; returns the run's numbers. */
async function run(client, jobs, progress) {
  const stats = { files: 0, failed: 0, bytesIn: 0, bytesOut: 0 };
  const made = new Set();
  let next = 0;
  const one = async (job) => {
    const markdown = job.source === '-' ? await readStdin() : await fs.promises.readFile(job.source);
    const html = await client.transform(markdown, { as: 'buffer' });
    if (job.target === null) {
      await new Promise((resolve, reject) => process.stdout.write(html, (error) => (error ? reject(error) : resolve())));
    } else {
      const dir = path.dirname(job.target);
      if (!made.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      await fs.promises.writeFile(job.target, html);
    }
    stats.files++;
    stats.bytesIn += markdown.length;
    stats.bytesOut += html.length;
    progress.advance(markdown.length);
  };
  const lane = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      try {
        await one(job);
      } catch (error) {
        stats.failed++;
        process.stderr.write(`fastmd-transform: ${job.source}: ${error.code ? `${error.code}: ` : ''}${error.message}\n`);
      }
    }
  };
  // Enough calls in flight to keep every worker busy while files are read and written.
  await Promise.all(Array.from({ length: Math.min(jobs.length, 64) }, lane));
  return stats;
}

async function main(argv) {
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const jobs = planJobs(options.inputs, options.out);
  const started = process.hrtime.bigint();
  const { client, cluster, where } = await openWorkers(options);
  const transforming = process.hrtime.bigint();
  let stats;
  let seconds;
  try {
    const progress = new Progress(jobs.length, !options.quiet && process.stderr.isTTY);
    stats = await run(client, jobs, progress);
    seconds = Number(process.hrtime.bigint() - transforming) / 1e9;
    progress.finish();
  } finally {
    await client.close();
    await cluster?.stop();
  }
  const total = Number(process.hrtime.bigint() - started) / 1e9;
  if (!options.quiet) {
    // Throughput counts the transforming (reading, calling, writing), not starting workers.
    process.stderr.write(`fastmd-transform: ${stats.files} file(s)${stats.failed ? `, ${stats.failed} failed` : ''}, ` +
      `${formatBytes(stats.bytesIn)} of Markdown -> ${formatBytes(stats.bytesOut)} of HTML in ${seconds.toFixed(3)} s ` +
      `(${total.toFixed(3)} s with startup): ${(stats.bytesIn / 1e6 / seconds).toFixed(1)} MB/s, ` +
      `${(stats.files / seconds).toFixed(0)} files/s; transport ${client.transport} (${where})\n`);
  }
  return stats.failed ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (error) => {
  if (error instanceof UsageError) {
    process.stderr.write(`fastmd-transform: ${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`fastmd-transform: ${error.code ? `${error.code}: ` : ''}${error.message}\n`);
    process.exitCode = 1;
  }
});
