#!/usr/bin/env node
'use strict';
// fastmd-transform: Markdown files, directory trees or stdin to HTML through fastmd's worker
// processes. It connects as every client of @fastmd/ipc does (connect()): the configured
// fastmd-ipcd, else the system one, else the per-user daemon, started on first use and shared
// with every other process of the user; with the legacy transport it starts N workers with
// --stdio. Every input it can
// convert is converted; the ones it cannot are listed with their reasons, then a summary:
// files, bytes in and out, time, throughput, transport. HELP is also its man page
// (man/fastmd-transform.1, made from it by scripts/man-page.js).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { connect } = require('../lib/index');
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
  --workers N         legacy worker processes to start (default: the number of CPUs, at
                      most 4); the fast path uses the daemon's pool, which scales itself
  --transport T       auto (default, or env FASTMD_IPC), fast or legacy
  --socket PATH       fastmd-ipcd to use (default: env FASTMD_IPC_SOCKET, else the system
                      daemon, else the per-user daemon, started on first use)
  --quiet             no progress bar and no summary line (failures are still listed)
  -h, --help          print this help and exit
  --version           print the version and exit

Environment:
  FASTMD_IPC          the transport when --transport is not given
  FASTMD_IPC_SOCKET   the daemon's socket when --socket is not given
  FASTMD_IPC_ROLLOUT  with auto: the percentage of processes that take the fast path
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
// The workers: connect() as every client does

/** What the summary line says about where calls went. */
function describeWorkers(info, options) {
  if (info.transport === 'legacy') return `${options.workers} worker process(es) over stdio`;
  switch (info.source) {
    case 'system': return `the system fastmd-ipcd at ${info.socketPath}`;
    case 'user-running': return `the per-user fastmd-ipcd at ${info.socketPath}`;
    case 'user-started': return `the per-user fastmd-ipcd at ${info.socketPath}, started for this run`;
    default: return `the fastmd-ipcd at ${info.socketPath}`;
  }
}

/** Connects as --transport says; returns {client, where}. */
async function openWorkers(options) {
  const client = await connect({ transport: options.transport, socket: options.socket, workers: options.workers });
  return { client, where: describeWorkers(client.transportInfo, options) };
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
    const { client, where } = opened;
    const transforming = process.hrtime.bigint();
    try {
      const progress = new Progress(jobs.length, !options.quiet && process.stderr.isTTY);
      stats = await run(client, jobs, progress, failures);
      seconds = Number(process.hrtime.bigint() - transforming) / 1e9;
      progress.finish();
    } finally {
      await client.close();
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
