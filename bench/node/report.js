'use strict';
// bench/node/report.js — percentiles from sorted samples, CPU time and faults of this process
// (process.resourceUsage) and of a worker (/proc/<pid>/stat), and the row output of the Node
// benchmarks: one JSON object per line on stdout, progress on stderr.

const fs = require('node:fs');

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

function emit(row) {
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

function progress(line) {
  process.stderr.write(`${line}\n`);
}

module.exports = { percentiles, Usage, selfUsage, processUsage, emit, progress };
