'use strict';
// bench/node/daemon.js — a private fastmd-ipcd on a temporary socket for one benchmark run,
// the fastmd-worker-md processes serving it, and bounded waits for both.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { setTimeout: sleep } = require('node:timers/promises');

/** A private fastmd-ipcd on a temporary socket, and fastmd-worker-md processes on it. */
class PrivateDaemon {
  /** `config`: the text of a config file to start it with (e.g. `[[pool]]` tables), or none. */
  static async start(binDir, config = null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-bench-node-'));
    const socket = path.join(dir, 'ipcd.sock');
    const configArgs = [];
    if (config !== null) {
      fs.writeFileSync(path.join(dir, 'ipcd.toml'), config);
      configArgs.push('--config', path.join(dir, 'ipcd.toml'));
    }
    const child = spawn(path.join(binDir, 'fastmd-ipcd'),
      ['--socket', socket, '--log-level', 'warn', '--pool-size-mib', '128', '--segment-size-kib', '32768', ...configArgs],
      { stdio: ['ignore', 'inherit', 'inherit'] });
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(socket)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('fastmd-ipcd did not listen within 5 s');
      await sleep(10);
    }
    return new PrivateDaemon(binDir, dir, socket, child);
  }

  constructor(binDir, dir, socket, child) {
    Object.assign(this, { binDir, dir, socket, child });
  }

  startWorkers(count, extraArgs) {
    return Array.from({ length: count }, () => spawn(path.join(this.binDir, 'fastmd-worker-md'),
      ['--socket', this.socket, ...extraArgs], { stdio: ['ignore', 'inherit', 'inherit'] }));
  }

  async stop() {
    await stopChildren([this.child]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function stopChildren(children) {
  await Promise.all(children.map((child) => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  })));
}

async function waitForWorkers(client, count) {
  const deadline = Date.now() + 5000;
  while (client.workers.length < count) {
    if (Date.now() > deadline) throw new Error(`${count} workers were not introduced within 5 s`);
    await sleep(10);
  }
}

module.exports = { PrivateDaemon, stopChildren, waitForWorkers };
