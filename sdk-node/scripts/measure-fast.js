#!/usr/bin/env node
// Measures the fast transport against a private fastmd-ipcd and an echo worker: sequential
// round trips per size and kind (median and p99), and pipelined throughput. The numbers in
// docs/sdk-node.md ("Fast transport and the addon") come from this script.
//
//   FASTMD_BIN_DIR=build/bin node sdk-node/scripts/measure-fast.js [--worker fastmd-worker-md]
//       [--inline-threshold BYTES]
'use strict';

const { openFastTransport } = require('../lib/transports/fast');
const { Cluster, waitFor } = require('../test/fast-support/cluster');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function roundTrips(transport, payload, count) {
  const times = [];
  for (let i = 0; i < count + 5; i++) {
    const start = process.hrtime.bigint();
    await transport.call('echo', payload);
    if (i >= 5) times.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

async function main() {
  const cluster = new Cluster({ worker: option('--worker', 'fastmd-worker-md') });
  await cluster.startDaemon();
  cluster.startWorker();
  const inlineThreshold = option('--inline-threshold') ? Number(option('--inline-threshold')) : undefined;
  const transport = await openFastTransport({ socket: cluster.socket, inlineThreshold });
  try {
    await waitFor(() => transport.workers.length === 1, 10000, 'the worker to be introduced');
    console.log('| payload | kind | median µs | p99 µs | request via | result via |');
    console.log('|---|---|---|---|---|---|');
    for (const size of (option("--sizes") || "64,1024,8192,16384,65536,1048576,10485760").split(",").map(Number)) {
      const count = size >= 1 << 20 ? 30 : 1000;
      for (const [kind, payload] of [
        ['ascii string', 'a'.repeat(size)],
        ['utf-8 string', 'é'.repeat(size / 2)],
        ['Buffer', Buffer.alloc(size, 0x61)],
      ]) {
        const before = transport.stats;
        const { median, p99 } = await roundTrips(transport, payload, count);
        const after = transport.stats;
        const paths = (direction) => ['inline', 'segment', 'oneoff']
          .filter((path) => after[direction][path] > before[direction][path]).join('+');
        console.log(`| ${size} B | ${kind} | ${median.toFixed(1)} | ${p99.toFixed(1)} | ${paths('sent')} | ${paths('received')} |`);
      }
    }
    for (const size of [64, 16384]) {
      const payloads = Array.from({ length: 20000 }, () => 'a'.repeat(size));
      const start = process.hrtime.bigint();
      await transport.callMany('echo', payloads);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      console.log(`pipelined ${size} B: ${(payloads.length / seconds).toFixed(0)} calls/s`);
    }
  } finally {
    await transport.close();
    await cluster.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
