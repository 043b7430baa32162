'use strict';
// What the tests of the daemon's worker pools share: a `[[pool]]` table of the reference
// worker, the pool as `fastmd-ipcctl pools --json` shows it, bounded waits on it, and a daemon
// on a pool config for the tests of a `describe`.

const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { after, before } = require('node:test');

const { Cluster, waitFor } = require('./cluster');
const { binary } = require('../support/env');

/** A `[[pool]]` table of the reference worker named `name`, with `extra` TOML lines. */
function poolTable(name, workerArgs, extra) {
  const command = JSON.stringify([binary('fastmd-worker-md'), ...workerArgs]);
  return `[[pool]]\nname = "${name}"\ncommand = ${command}\n${extra}`;
}

/** The pool `name` as `fastmd-ipcctl pools --json` shows it now (undefined: not listed). */
async function poolStatus(socket, name) {
  const { stdout } = await promisify(execFile)(binary('fastmd-ipcctl'),
    ['pools', '--json', '--socket', socket], { timeout: 10000 });
  return JSON.parse(stdout).find((pool) => pool.name === name);
}

/** Polls the pool until `done(pool)` holds, at most `ms`; the pool seen last. */
async function waitForPool(socket, name, done, ms, what) {
  let seen;
  await waitFor(async () => {
    seen = await poolStatus(socket, name);
    return seen !== undefined && done(seen);
  }, ms, () => `${what} (last seen: ${JSON.stringify(seen)})`);
  return seen;
}

const readyPids = (pool) => pool.workers.filter((w) => w.state === 'ready').map((w) => w.pid);

/**
 * A daemon on `config`, and room for the client a test connects. A call waits up to 30 s for a
 * pool worker (the daemon's --no-worker-wait-ms, which the SDK honours), so a slow worker start
 * on a loaded machine is waited for rather than failed.
 */
function usePoolDaemon(config) {
  const fixture = { cluster: null, client: null };
  before(async () => {
    fixture.cluster = new Cluster({ config, daemonArgs: ['--no-worker-wait-ms', '30000'] });
    await fixture.cluster.startDaemon();
  });
  after(async () => {
    await fixture.client?.close();
    await fixture.cluster?.stop();
  });
  return fixture;
}

module.exports = { poolTable, poolStatus, waitForPool, readyPids, usePoolDaemon };
