#!/usr/bin/env node
// Measures the public API (connect → client.call) over one transport with the reference
// worker: sequential echo round trips per payload size and kind (median, p99), the
// throughput of 5,000 calls in flight, and transform of the CommonMark spec text. The legacy
// numbers in docs/sdk-node.md come from this script.
//
//   FASTMD_BIN_DIR=build/bin node sdk-node/scripts/measure-client.js --transport legacy [--workers N]
//   FASTMD_BIN_DIR=build/bin node sdk-node/scripts/measure-client.js --transport fast
'use strict';

const fs = require('node:fs');
const { parseArgs } = require('node:util');

const { connect } = require('..');
const { Cluster } = require('../test/fast-support/cluster');

const { values } = parseArgs({ options: { transport: { type: 'string', default: 'legacy' }, workers: { type: 'string', default: '1' } } });
const workers = Number(values.workers);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function roundTrips(client, payload, count) {
  const times = [];
  for (let i = 0; i < count + 3; i++) {
    const start = process.hrtime.bigint();
    await client.call('echo', payload);
    if (i >= 3) times.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

async function main() {
  let cluster = null;
  let client;
  if (values.transport === 'fast') {
    cluster = new Cluster();
    await cluster.startDaemon();
    for (let i = 0; i < workers; i++) cluster.startWorker();
    client = await connect({ transport: 'fast', socket: cluster.socket });
  } else {
    client = await connect({ transport: 'legacy', workers });
  }
  try {
    await client.call('echo', 'warm up');
    console.log(`transport ${client.transport}, ${workers} worker(s)`);
    console.log('| payload | kind | median µs | p99 µs |');
    console.log('|---|---|---|---|');
    for (const size of [64, 1024, 1 << 20, 10 << 20]) {
      const count = size >= 1 << 20 ? 20 : 500;
      for (const [kind, payload] of [
        ['ASCII string', 'a'.repeat(size)],
        ['UTF-8 string', 'é'.repeat(size / 2)],
        ['Buffer (UTF-8)', Buffer.alloc(size, 0x61)],
      ]) {
        const { median, p99 } = await roundTrips(client, payload, count);
        console.log(`| ${size} B | ${kind} | ${median.toFixed(0)} | ${p99.toFixed(0)} |`);
      }
    }
    const payloads = Array.from({ length: 5000 }, (_, i) => `# call ${i}\n`);
    let start = process.hrtime.bigint();
    await client.callMany('transform', payloads);
    let seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`5,000 small transforms in flight: ${(payloads.length / seconds).toFixed(0)} calls/s`);
    const spec = fs.readFileSync(require.resolve('commonmark-spec/spec.txt'), 'utf8');
    start = process.hrtime.bigint();
    for (let i = 0; i < 10; i++) await client.transform(spec);
    seconds = Number(process.hrtime.bigint() - start) / 1e9 / 10;
    console.log(`transform of the CommonMark spec (${(Buffer.byteLength(spec) / 1024).toFixed(0)} KiB): ${(seconds * 1000).toFixed(1)} ms`);
  } finally {
    await client.close();
    await cluster?.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
