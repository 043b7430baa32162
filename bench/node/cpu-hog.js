'use strict';
// bench/node/cpu-hog.js — issue 13's busy machine: the Node client's sequential echo (64 B and
// 1 KiB) at the default settings (adaptive spin on both sides) and with no spin on either side,
// each while a CPU hog runs beside it: one process per core, each spinning without a pause.
// Besides the usual latency and CPU fields, each row gives the hog's own throughput during its
// series (hog_cpu_share: the hog's CPU seconds per wall second, over all its processes; the
// cores' count when nothing disturbs it). The two settings take turns in rounds, so drift hits
// both alike. Rows: transport "fast+hog" or "fast-nospin+hog", cpu_hog: the hog's processes.
//
//   node bench/node/cpu-hog.js [--quick] [--bin-dir DIR] [--sdk DIR]

const os = require('node:os');
const { spawn } = require('node:child_process');
const { setTimeout: sleep } = require('node:timers/promises');

const { percentiles, processUsage, measure, costs, emit, progress } = require('./report');
const { parseStepArgs } = require('./step-args');
const { PrivateDaemon, stopChildren, waitForWorkers } = require('./daemon');
const { textPayload } = require('./transports');

const SIZES = [64, 1024];
// name, fastmd-worker-md's arguments, the client's spinUs (undefined: the default)
const SETTINGS = [
  ['fast+hog', [], undefined],
  ['fast-nospin+hog', ['--spin-us', '0'], 0],
];

/** One spinning process per core: `node -e` running an empty loop until killed. */
function startHog(processes) {
  return Array.from({ length: processes }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

/** Sequential echo of `payload` for `seconds`; samples in ns, the measure, and the hog's CPU µs. */
async function timedSeries(client, workerPids, hogPids, payload, seconds) {
  const samples = [];
  const hogBefore = hogPids.map(processUsage);
  const m = await measure(workerPids, async () => {
    const until = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
    for (let now = process.hrtime.bigint(); now < until;) {
      await client.call('echo', payload);
      const end = process.hrtime.bigint();
      samples.push(Number(end - now));
      now = end;
    }
  });
  const hogCpuUs = hogPids.map(processUsage).reduce((sum, u, i) => sum + u.minus(hogBefore[i]).cpuUs, 0);
  return { samples, m, hogCpuUs };
}

async function main() {
  const { quick, binDir, sdk } = parseStepArgs(process.argv.slice(2), __filename, {
    about: 'The Node client\'s sequential 64 B and 1 KiB echo, at the default settings and without spin,\n' +
      'beside a CPU hog of one spinning process per core, and the hog\'s throughput meanwhile:\n' +
      'one JSON row per line on stdout.',
    takes: ['quick', 'binDir', 'sdk'],
  });
  const ipc = require(sdk);
  const rounds = quick ? 1 : 5;
  const seconds = quick ? 0.3 : 2;
  const setups = [];
  let hog = [];
  try {
    // A daemon each: a client is introduced to every worker of its daemon.
    for (const [transport, args, spinUs] of SETTINGS) {
      const setup = { transport, daemon: await PrivateDaemon.start(binDir), workers: [], client: null };
      setups.push(setup);
      setup.workers = setup.daemon.startWorkers(1, args);
      setup.client = await ipc.connect({ transport: 'fast', socket: setup.daemon.socket, spinUs });
      await waitForWorkers(setup.client, 1);
    }
    hog = startHog(os.cpus().length);
    await sleep(200);  // every hog process running
    const hogPids = hog.map((child) => child.pid);
    for (const size of SIZES) {
      const payload = textPayload(size);
      const totals = new Map(setups.map((s) => [s.transport, { samples: [], totalNs: 0, clientCpu: 0, workerCpu: 0,
        clientFaults: 0, workerFaults: 0, hogCpuUs: 0, calls: 0 }]));
      for (let round = 0; round < rounds; round++) {
        for (const { transport, workers, client } of setups) {
          progress(`node ${transport}: echo ${size} B, round ${round + 1} of ${rounds}, beside ${hogPids.length} hog processes`);
          for (let i = 0; i < 200; i++) await client.call('echo', payload);  // warm, and the spin learns
          const { samples, m, hogCpuUs } = await timedSeries(client, workers.map((w) => w.pid), hogPids, payload, seconds);
          const total = totals.get(transport);
          // Not push(...samples): a spread of ~120k or more arguments overflows V8's stack.
          for (const sample of samples) total.samples.push(sample);
          total.totalNs += m.totalNs;
          total.clientCpu += m.client.cpuUs;
          total.workerCpu += m.worker.cpuUs;
          total.clientFaults += m.client.minflt;
          total.workerFaults += m.worker.minflt;
          total.hogCpuUs += hogCpuUs;
          total.calls += samples.length;
        }
      }
      for (const [transport, t] of totals) {
        const m = { totalNs: t.totalNs, client: { cpuUs: t.clientCpu, minflt: t.clientFaults },
          worker: { cpuUs: t.workerCpu, minflt: t.workerFaults } };
        emit({ client: 'node', transport, method: 'echo', payload_kind: 'string', payload_bytes: size,
          ...percentiles(Float64Array.from(t.samples)), msgs_per_s: t.calls / (t.totalNs / 1e9), iterations: t.calls,
          ...costs(m, t.calls), cpu_hog: hogPids.length, hog_cpu_share: t.hogCpuUs / (t.totalNs / 1e3),
          note: `beside ${hogPids.length} spinning processes; ${rounds} rounds of ${seconds} s, alternating` });
      }
    }
  } finally {
    await stopChildren(hog);
    for (const { client, workers, daemon } of setups) {
      await client?.close();
      await stopChildren(workers);
      await daemon.stop();
    }
  }
}

main().catch((error) => {
  progress(`bench/node/cpu-hog.js: ${error.stack ?? error}`);
  process.exit(1);
});
