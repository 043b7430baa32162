'use strict';
// bench/node/probe-client.js — the load bench/probe counts: COUNT calls of `echo` with SIZE
// bytes (or COUNT messages through callMany with --many) from Node over one transport, after
// a warm-up, so the counts of two runs with different COUNTs differ by the calls alone.
//
//   node bench/node/probe-client.js legacy|fast|fast-nospin|fast-spin|fast-client-spin SIZE COUNT [--many] [--bin-dir DIR]
//
// The fast transports are transports.js's (FAST_TRANSPORTS): fast the defaults (adaptive spin
// on both sides), fast-nospin neither spinning, fast-spin both polling 200 µs every wait,
// fast-client-spin only the client.

const path = require('node:path');
const { PrivateDaemon, stopChildren, waitForWorkers } = require('./daemon');
const { parseStepArgs } = require('./step-args');
const { FAST_TRANSPORTS } = require('./transports');

const ROOT = path.resolve(__dirname, '..', '..');
const ipc = require(path.join(ROOT, 'sdk-node'));

async function load(client, size, count, many) {
  const payload = 'x'.repeat(size);
  if (many) {
    const batch = new Array(4096).fill(payload);
    for (let done = 0; done < count; done += batch.length) await client.callMany('echo', batch);
  } else {
    for (let i = 0; i < count; i++) await client.call('echo', payload);
  }
}

async function main() {
  const args = parseStepArgs(process.argv.slice(2), __filename, {
    about: 'The load bench/probe counts: COUNT calls of echo with SIZE bytes (or COUNT messages through\n' +
      'callMany) from Node over TRANSPORT (legacy, fast, fast-nospin, fast-spin, fast-client-spin),\n' +
      'after a warm-up.',
    takes: ['many', 'binDir'],
    positional: ['TRANSPORT', 'SIZE', 'COUNT'],
  });
  const [transport, size, count] = [args.positional[0], Number(args.positional[1]), Number(args.positional[2])];
  const { many, binDir } = args;
  if (transport === 'legacy') {
    const client = await ipc.connect({ transport: 'legacy', workerCommand: path.join(binDir, 'fastmd-worker-md') });
    await load(client, size, 200, many);
    await load(client, size, count, many);
    await client.close();
    return;
  }
  const setting = FAST_TRANSPORTS.find(([name]) => name === transport);
  if (!setting) {
    process.stderr.write(`probe-client: unknown transport '${transport}' (see --help)\n`);
    process.exit(2);
  }
  const [, workerArgs, spinUs] = setting;
  const daemon = await PrivateDaemon.start(binDir);
  const workers = daemon.startWorkers(1, workerArgs);
  try {
    const client = await ipc.connect({ transport: 'fast', socket: daemon.socket, spinUs });
    await waitForWorkers(client, 1);
    await load(client, size, 200, many);
    await load(client, size, count, many);
    await client.close();
  } finally {
    await stopChildren(workers);
    await daemon.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`probe-client: ${error.stack ?? error}\n`);
  process.exit(1);
});
