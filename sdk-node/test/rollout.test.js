'use strict';
// FASTMD_IPC_ROLLOUT in `auto`, through the addon's one decision (sdk-cpp/src/ipc/rollout.hpp):
// 0 puts a process on legacy without a warning and says why in transportInfo and onTransport;
// 100 takes the fast path; any value keeps a process's choice for every connect it makes; a
// value that is not 0–100 is an error naming the variable. The split over 1,000 processes is
// test-sdk-cpp's "FASTMD_IPC_ROLLOUT=30 sends about 30 % of processes to fast, each stably".

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { legacyWorker, runNode } = require('./support/env');
const { Cluster } = require('./fast-support/cluster');

const worker = JSON.stringify(legacyWorker());

/** Connects `times` times in one child process; resolves with each connect's transportInfo and the warnings. */
async function connectInChild(env, times) {
  const { code, stdout, stderr } = await runNode({
    env: { FASTMD_IPC: '', ...env },
    script: `
      const { connect } = require('.');
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code));
      (async () => {
        const infos = [];
        for (let i = 0; i < ${times}; i++) {
          const hooked = [];
          const client = await connect({ workerCommand: ${worker}, timeoutMs: 20000, onTransport: (info) => hooked.push(info) });
          if (hooked.length !== 1 || hooked[0] !== client.transportInfo) throw new Error('onTransport was not called once with transportInfo');
          infos.push({ ...client.transportInfo, actual: client.transport });
          await client.close();
        }
        console.log(JSON.stringify({ infos, warnings }));
      })().catch((e) => { console.log(JSON.stringify({ error: e.code, message: e.message })); });`,
  });
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout);
}

describe('FASTMD_IPC_ROLLOUT', () => {
  it('0 puts the process on legacy without a warning, and transportInfo says why', async () => {
    const { infos, warnings } = await connectInChild({ FASTMD_IPC_ROLLOUT: '0' }, 2);
    for (const info of infos) {
      assert.equal(info.transport, 'legacy');
      assert.equal(info.actual, 'legacy');
      assert.equal(info.requested, 'auto');
      assert.equal(info.source, null);
      assert.match(info.reason, /^FASTMD_IPC_ROLLOUT=0 puts this process \(bucket \d+ of 0-99\) on the legacy path$/);
    }
    assert.deepEqual(warnings, []);
  });

  it('100 takes the fast path, and any value keeps a process on one path for every connect', async () => {
    const cluster = new Cluster();
    try {
      await cluster.startDaemon();
      cluster.startWorker();
      const all = await connectInChild({ FASTMD_IPC_ROLLOUT: '100', FASTMD_IPC_SOCKET: cluster.socket }, 1);
      assert.equal(all.infos[0].transport, 'fast');
      assert.equal(all.infos[0].source, 'configured');
      assert.equal(all.infos[0].socketPath, cluster.socket);
      for (let process = 0; process < 4; process++) {
        const { infos, warnings } = await connectInChild({ FASTMD_IPC_ROLLOUT: '50', FASTMD_IPC_SOCKET: cluster.socket }, 3);
        assert.equal(new Set(infos.map((info) => info.actual)).size, 1, JSON.stringify(infos));
        assert.deepEqual(warnings, []);
      }
    } finally {
      await cluster.stop();
    }
  });

  it('rejects a value that is not an integer from 0 to 100, naming the variable', async () => {
    for (const bad of ['150', 'half', '-5']) {
      const seen = await connectInChild({ FASTMD_IPC_ROLLOUT: bad }, 1);
      assert.equal(seen.error, 'FASTMD_INVALID_FIELD');
      assert.equal(seen.message, `FASTMD_IPC_ROLLOUT must be an integer from 0 to 100 (the percentage of processes that use the fast path), not '${bad}'`);
    }
  });
});
