#!/usr/bin/env node
'use strict';
// fastmd-transform: Markdown files, directory trees or stdin to HTML through fastmd's worker
// processes. With the fast transport it uses the system fastmd-ipcd when one answers, else it
// starts a private daemon on a temporary socket and N workers for the run (the embedded
// default); with the legacy transport it starts N workers with --stdio. Every input it can
// convert is converted; the ones it cannot are listed with their reasons, then a summary:
// files, bytes in and out, time, throughput, transport. HELP is also its man page
// (man/fastmd-transform.1, made from it by scripts/man-page.js).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { connect } = require('../lib/index');
const { findBinary } = require('../lib/binaries');
const { planJobs, describeError, contentProblem, UsageError } = require('../lib/cli/inputs');
const { version } = require('../package.json');

const HELP = `Usage: fastmd-transform [options] [INPUT...]

Transforms Markdown to HTML with fastmd workers. An INPUT is a file, a directory (its
*.md and *.markdown files, recursively, following symbolic links) or '-' for stdin (the
default). One file or stdin without --out prints the HTML to stdout; directories and
several inputs need --out, where each tree is mirrored with .html names.

Every input that can be converted is. One that cannot is listed at the end with its
reason, one line each: a missing or unreadable file or directory, a dangling symbolic
link, a binary file (NUL bytes), a file that is not valid UTF-8, a transform that failed.

Options:
  --out DIR           write the HTML files under DIR
  --workers N         worker processes to start (default: the number of CPUs, at most 4)
  --transport T       auto (default, or env FASTMD_IPC), fast or legacy
  --socket PATH       fastmd-ipcd to use (default: env FASTMD_IPC_SOCKET, then the system path)
  --quiet             no progress bar and no summary line (failures are still listed)
  -h, --help          print this help and exit
  --version           print the version and exit

Environment:
  FASTMD_IPC          the transport when --transport is not given
  FASTMD_IPC_SOCKET   the daemon's socket when --socket is not given
  FASTMD_BIN_DIR      where fastmd-ipcd and fastmd-worker-md are looked for first; then
                      a checkout's build/bin, PATH, /usr/local/sbin and /usr/sbin

Exit status:
  0   every input was converted
  1   some inputs failed (each is listed with its reason); all others were converted
  2   usage error: nothing was done
  3   no workers could be started (the message says why): nothing was converted
`;

const OPTIONS = {
  out: { type: 'string' },
  workers: { type: 'string' },
  transport: { type: 'string' },
  socket: { type: 'string' },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
};
const DAEMON_START_MS = 5000;
const STOP_GRACE_MS = 3000;
// A long run: worth a progress bar on a terminal.
const PROGRESS_MIN_FILES = 200;

function defaultWorkers() {
  return Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));
}

/** parseArgs's complaint, said for this command. */
function usageMessage(error) {
  const unknown = /^Unknown option '([^']+)'/.exec(error.message);
  if (unknown) {
    const names = Object.entries(OPTIONS).map(([name, { short }]) => (short ? `-${short}/--${name}` : `--${name}`));
    return `unknown option '${unknown[1]}'; the options are ${names.join(', ')} ` +
      '(a file whose name starts with \'-\' goes after \'--\')';
  }
  const missing = /^Option '(-\w, )?--(\w+) <value>' argument missing/.exec(error.message);
  if (missing) return `--${missing[2]} needs a value`;
  return error.message;
}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(usageMessage(error));
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

/** A job that cannot be completed: `reason` is what the failure list says about its source. */
class JobFailure extends Error {}

/** Reads, checks, transforms and writes one job; throws JobFailure saying what went wrong. */
async function transformOne(client, job, made) {
  let markdown;
  try {
    markdown = job.source === '-' ? await readStdin() : await fs.promises.readFile(job.source);
  } catch (error) {
    throw new JobFailure(`cannot read: ${describeError(error)}`);
  }
  const problem = contentProblem(markdown);
  if (problem) throw new JobFailure(problem);
  let html;
  try {
    html = await client.transform(markdown, { as: 'buffer' });
  } catch (error) {
    throw new JobFailure(`transform failed: ${describeError(error)}`);
  }
  try {
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
  } catch (error) {
    // The path the system call was about (a directory of --out, the HTML file), not the source.
    const where = error.path ?? job.target ?? 'stdout';
    throw new JobFailure(`cannot write ${where}: ${describeError(error)}`);
  }
  return { bytesIn: markdown.length, bytesOut: html.length };
}

/**
 * Transforms every job with a bounded window in flight; returns the run's numbers and adds
 * each job that failed to `failures`.
 */
async function run(client, jobs, progress, failures) {
  const stats = { files: 0, bytesIn: 0, bytesOut: 0 };
  const made = new Set();
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      try {
        const { bytesIn, bytesOut } = await transformOne(client, job, made);
        stats.files++;
        stats.bytesIn += bytesIn;
        stats.bytesOut += bytesOut;
        progress.advance(bytesIn);
      } catch (error) {
        if (!(error instanceof JobFailure)) throw error;
        failures.push({ index: job.index, path: job.source === '-' ? 'stdin' : job.source, reason: error.message });
        progress.advance(0);
      }
    }
  };
  // Enough calls in flight to keep every worker busy while files are read and written.
  await Promise.all(Array.from({ length: Math.min(jobs.length, 64) }, lane));
  return stats;
}

/** Workers could not be started: nothing was converted (status 3). */
class StartError extends Error {}

async function main(argv) {
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`fastmd-transform ${version}\n`);
    return 0;
  }
  const { jobs, failures } = planJobs(options.inputs, options.out);
  const started = process.hrtime.bigint();
  let stats = { files: 0, bytesIn: 0, bytesOut: 0 };
  let seconds = 0;
  let how = '';
  if (jobs.length > 0) {
    let opened;
    try {
      opened = await openWorkers(options);
    } catch (error) {
      throw new StartError(`cannot start the workers: ${describeError(error)}`);
    }
    const { client, cluster, where } = opened;
    const transforming = process.hrtime.bigint();
    try {
      const progress = new Progress(jobs.length, !options.quiet && process.stderr.isTTY);
      stats = await run(client, jobs, progress, failures);
      seconds = Number(process.hrtime.bigint() - transforming) / 1e9;
      progress.finish();
    } finally {
      await client.close();
      await cluster?.stop();
    }
    how = `; transport ${client.transport} (${where})`;
  }
  failures.sort((a, b) => a.index - b.index);
  for (const failure of failures) process.stderr.write(`fastmd-transform: ${failure.path}: ${failure.reason}\n`);
  if (!options.quiet) {
    const total = Number(process.hrtime.bigint() - started) / 1e9;
    // Throughput counts the transforming (reading, calling, writing), not starting workers.
    const rate = seconds > 0
      ? ` in ${seconds.toFixed(3)} s (${total.toFixed(3)} s with startup): ${(stats.bytesIn / 1e6 / seconds).toFixed(1)} MB/s, ` +
        `${(stats.files / seconds).toFixed(0)} files/s`
      : '';
    process.stderr.write(`fastmd-transform: ${stats.files} file(s) converted` +
      `${failures.length ? `, ${failures.length} failed (listed above)` : ''}, ` +
      `${formatBytes(stats.bytesIn)} of Markdown -> ${formatBytes(stats.bytesOut)} of HTML${rate}${how}\n`);
  }
  return failures.length ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (error) => {
  if (error instanceof UsageError) {
    process.stderr.write(`fastmd-transform: ${error.message}\nTry 'fastmd-transform --help' for more information.\n`);
    process.exitCode = 2;
  } else if (error instanceof StartError) {
    process.stderr.write(`fastmd-transform: ${error.message}\n`);
    process.exitCode = 3;
  } else {
    throw error; // a bug: Node prints the stack and exits with 1
  }
});
