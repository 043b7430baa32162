'use strict';
// bench/node/report.js — percentiles from sorted samples, CPU time and faults of this process
// (process.resourceUsage) and of a worker (/proc/<pid>/stat), a series measured with both, and
// the row output of the Node benchmarks: one JSON object per line on stdout, progress on stderr.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Nearest-rank p50/p99/p99.9 in µs of samples in ns (sorted in place). */
function percentiles(samplesNs) {
  samplesNs.sort();
  const rank = (q) => samplesNs[Math.min(samplesNs.length - 1, Math.max(0, Math.ceil(q * samplesNs.length) - 1))] / 1000;
  return { p50_us: rank(0.5), p99_us: rank(0.99), p999_us: rank(0.999) };
}

class Usage {
  constructor(cpuUs = 0, minflt = 0) {
    this.cpuUs = cpuUs;
    this.minflt = minflt;
  }
  minus(earlier) {
    return new Usage(this.cpuUs - earlier.cpuUs, this.minflt - earlier.minflt);
  }
  plus(other) {
    return new Usage(this.cpuUs + other.cpuUs, this.minflt + other.minflt);
  }
}

function selfUsage() {
  const u = process.resourceUsage();
  return new Usage(u.userCPUTime + u.systemCPUTime, u.minorPageFault);
}

// USER_HZ is 100 on every Linux this runs on (sysconf(_SC_CLK_TCK) is not reachable from JS).
const CLOCK_TICKS_PER_S = 100;

/** A running process's CPU time and minor faults (fields 10, 14, 15 of /proc/<pid>/stat). */
function processUsage(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return new Usage();
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');  // fields[0] is field 3
  const at = (n) => Number(fields[n - 3]);
  return new Usage(((at(14) + at(15)) * 1e6) / CLOCK_TICKS_PER_S, at(10));
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

/** The per-request cost fields of a row, from a measure() of `requests` calls. */
function costs(m, requests) {
  return {
    cpu_us_per_req: (m.client.cpuUs + m.worker.cpuUs) / requests,
    client_cpu_us_per_req: m.client.cpuUs / requests,
    worker_cpu_us_per_req: m.worker.cpuUs / requests,
    minflt_per_req: (m.client.minflt + m.worker.minflt) / requests,
  };
}

// How long perf stat takes to attach to running processes, at most (measured: under 100 ms).
const PERF_ATTACH_MS = 300;

/**
 * Counts the system calls that the processes `pids` (every thread they have now) make while
 * `body` runs, with `perf stat -e raw_syscalls:sys_enter` (Debian's linux-perf). Resolves to
 * { syscalls } or to { missing: why } where perf cannot count. The count runs from
 * PERF_ATTACH_MS before `body` to just after it, so the idle processes' few calls of that
 * margin count too: an upper bound.
 */
async function countSyscalls(pids, body) {
  const out = path.join(os.tmpdir(), `fastmd-syscalls-${process.pid}-${Date.now()}.csv`);
  const perf = spawn('perf', ['stat', '-x,', '-e', 'raw_syscalls:sys_enter', '-p', pids.join(','), '-o', out],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  perf.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => {
    perf.on('error', (error) => resolve(`perf could not start (${error.code}; Debian's linux-perf has it)`));
    perf.on('exit', (code, signal) => resolve(signal === 'SIGINT' || code === 0 ? null : `perf stat failed: ${stderr.trim()}`));
  });
  const early = await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, PERF_ATTACH_MS, undefined))]);
  if (early !== undefined) return { missing: early ?? 'perf stat ended before the series' };
  try {
    await body();
  } finally {
    perf.kill('SIGINT');
  }
  const failed = await exited;
  try {
    if (failed) return { missing: failed };
    const line = fs.readFileSync(out, 'utf8').split('\n').find((l) => l.includes('raw_syscalls:sys_enter'));
    const count = Number(line?.split(',')[0]);
    return Number.isFinite(count) ? { syscalls: count } : { missing: `perf counted no syscalls here: ${line?.trim()}` };
  } finally {
    fs.rmSync(out, { force: true });
  }
}

function emit(row) {
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

function progress(line) {
  process.stderr.write(`${line}\n`);
}

module.exports = { percentiles, Usage, selfUsage, processUsage, measure, costs, countSyscalls, emit, progress };
