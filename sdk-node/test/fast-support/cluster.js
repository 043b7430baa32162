'use strict';
// A private fastmd-ipcd and its workers for the tests that need a daemon: binaries from
// FASTMD_BIN_DIR (else the repository's build/bin, see ../support/env.js), a socket in a
// fresh temporary directory, every wait bounded, every process and file removed by stop().

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { after, before } = require('node:test');

const { openFastTransport } = require('../../lib/transports/fast');
const { binary } = require('../support/env');
const { waitFor } = require('../support/wait');

/** Ends `child` with SIGTERM, then SIGKILL if it has not exited within `ms`. */
function stopProcess(child, ms = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

class Cluster {
  /** `config`: the text of a config file (TOML, e.g. `[[pool]]` tables) the daemon reads. */
  constructor({ worker = 'fastmd-worker-md', daemonArgs = [], config = null } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-node-fast-'));
    this.socket = path.join(this.dir, 'ipcd.sock');
    this.workerBinary = worker;
    this.daemonArgs = daemonArgs;
    if (config !== null) {
      const configPath = path.join(this.dir, 'ipcd.toml');
      fs.writeFileSync(configPath, config);
      this.daemonArgs = ['--config', configPath, ...daemonArgs];
    }
    this.daemon = null;
    this.workers = [];
  }

  /** Starts (or restarts) the daemon and waits, bounded, for its socket. */
  async startDaemon() {
    fs.rmSync(this.socket, { force: true }); // a killed daemon's socket: wait for the new one
    this.daemon = spawn(binary('fastmd-ipcd'), ['--socket', this.socket, ...this.daemonArgs],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    this.daemon.stderr.on('data', () => {}); // logs are not the test's business
    await waitFor(() => fs.existsSync(this.socket), 5000, `fastmd-ipcd to listen on ${this.socket}`);
    return this;
  }

  /** Starts one more worker process serving through the daemon. */
  startWorker(extraArgs = []) {
    const child = spawn(binary(this.workerBinary), ['--socket', this.socket, ...extraArgs],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', () => {});
    this.workers.push(child);
    return child;
  }

  async stop() {
    await Promise.all([...this.workers, this.daemon].filter(Boolean).map((child) => stopProcess(child)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Hooks of the enclosing `describe`: before its tests, a private daemon (with `daemonArgs`),
 * `workers` workers of `worker` started with `workerArgs`, and a fast transport (with `transport` options) that has
 * been introduced to all of them; after them, all stopped. Returns the object whose `cluster`
 * and `transport` the `before` hook fills in.
 *
 *     const fast = useFastCluster({ workers: 2 });
 *     it('echoes', async () => assert.equal(await fast.transport.call('echo', 'x'), 'x'));
 */
function useFastCluster({ worker, workers = 1, workerArgs = [], daemonArgs = [], transport = {} } = {}) {
  const fast = { cluster: null, transport: null };
  before(async () => {
    fast.cluster = new Cluster({ ...(worker ? { worker } : {}), daemonArgs });
    await fast.cluster.startDaemon();
    for (let i = 0; i < workers; i++) fast.cluster.startWorker(workerArgs);
    fast.transport = await openFastTransport({ socket: fast.cluster.socket, ...transport });
    await waitFor(() => fast.transport.workers.length === workers, 10000, `${workers} worker(s) to be introduced`);
  });
  after(async () => {
    await fast.transport?.close();
    await fast.cluster?.stop();
  });
  return fast;
}

module.exports = { Cluster, useFastCluster, waitFor };
