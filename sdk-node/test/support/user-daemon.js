'use strict';
// What the tests of the per-user daemon share: the environment of a user with nothing
// configured (no FASTMD_IPC_SOCKET, the per-user directory under a temporary XDG_RUNTIME_DIR,
// a short idle exit), the pid of the daemon a client started there, and the bounded wait for
// its idle exit that checks it left nothing behind.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { binDir, processAlive: alive } = require('./env');

/**
 * The environment of a client with nothing configured, its runtime directory `runtime`; a
 * daemon it starts exits after `idleExitS` seconds without clients.
 */
function zeroConfigEnv(runtime, idleExitS = 1) {
  return {
    XDG_RUNTIME_DIR: runtime,
    FASTMD_BIN_DIR: binDir,
    FASTMD_IPC: '',
    FASTMD_IPC_SOCKET: '',
    FASTMD_IPC_ROLLOUT: '',
    FASTMD_IPCD_IDLE_EXIT_S: String(idleExitS),
  };
}

/** The pid of the per-user daemon serving `runtime` (from its instance lock). */
function userDaemonPid(runtime) {
  return Number(fs.readFileSync(path.join(runtime, 'fastmd', 'ipcd.sock.lock'), 'utf8').trim());
}

/** Waits (at most 15 s) for daemon `pid` to exit idle; asserts it left nothing in `runtime` or /dev/shm. */
async function assertIdleExitLeavesNothing(pid, runtime) {
  const deadline = Date.now() + 15000;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!alive(pid), `the per-user daemon ${pid} still runs 15 s after its clients left`);
  assert.deepEqual(fs.readdirSync(runtime), [], `${runtime} is empty after the idle exit`);
  const prefix = `fastmd-${process.getuid()}-${pid}-`;
  assert.deepEqual(fs.readdirSync('/dev/shm').filter((name) => name.startsWith(prefix)), []);
}

module.exports = { zeroConfigEnv, userDaemonPid, assertIdleExitLeavesNothing };
