'use strict';
// A malicious worker against the real Node client: fastmd-test-hostile-worker registers `echo`
// with a real daemon and answers every call in one broken way. The client must fail such calls
// with a coded error (never resolve them with forged text), close a channel that breaks the fd
// rules without keeping any of its fds, and let calls fail over to a good worker beside it.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { after, before, describe, it } = require('node:test');

const { openFastTransport } = require('../lib/transports/fast');
const { Cluster, waitFor } = require('./fast-support/cluster');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

/** A daemon with a hostile worker answering in `mode`, and `good` well-behaved workers. */
function useHostileCluster(mode, good = 0) {
  const setup = { cluster: null, transport: null };
  before(async () => {
    setup.cluster = new Cluster({ worker: 'fastmd-test-hostile-worker' });
    await setup.cluster.startDaemon();
    setup.cluster.startWorker(['--answer', mode]);
    setup.cluster.workerBinary = 'fastmd-test-worker';
    for (let i = 0; i < good; i++) setup.cluster.startWorker();
    setup.transport = await openFastTransport({ socket: setup.cluster.socket });
    await waitFor(() => setup.transport.workers.length === 1 + good, 10000, 'the workers');
  });
  after(async () => {
    await setup.transport?.close();
    await setup.cluster?.stop();
  });
  return setup;
}

for (const [mode, what, pattern] of [
  ['code-0', 'error code 0', /code 0/],
  ['unknown-code', 'an unknown error code', /999/],
]) {
  describe(`a worker answering with ${what}`, { timeout: 30000 }, () => {
    const setup = useHostileCluster(mode);
    it('fails the call with FASTMD_INVALID_FIELD naming the code, never resolving it', async () => {
      await assert.rejects(setup.transport.call('echo', 'hello', { timeoutMs: 5000 }), (error) => {
        assert.equal(error.code, 'FASTMD_INVALID_FIELD');
        assert.match(error.message, pattern);
        return true;
      });
    });
  });
}

describe('a worker answering with a forged shared-memory handle', { timeout: 30000 }, () => {
  const setup = useHostileCluster('forged-handle');
  it('fails the call with its SHM code at once, not PEER_GONE after re-sends', async () => {
    await assert.rejects(setup.transport.call('echo', 'hello', { timeoutMs: 5000 }), (error) => {
      assert.equal(error.code, 'FASTMD_SHM_OUT_OF_BOUNDS');
      return true;
    });
  });
});

describe('a worker attaching stray fds to its answers', { timeout: 60000 }, () => {
  const setup = useHostileCluster('stray-fds', 1);
  it('loses its channel, leaves no fd behind, and every call succeeds on the good worker', async () => {
    const baseline = openFds();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      setup.transport.call('echo', `call ${i}`, { timeoutMs: 10000 })));
    results.forEach((result, i) => assert.equal(result, `call ${i}`));
    await waitFor(() => openFds() <= baseline, 5000, 'the fds to come back to the baseline');
    assert.equal(setup.transport.workers.length, 1);
  });
});

describe('a worker answering every call twice', { timeout: 30000 }, () => {
  const setup = useHostileCluster('duplicate');
  it('completes each call once, with the first answer', async () => {
    for (let i = 0; i < 20; i++) {
      assert.equal(await setup.transport.call('echo', `call ${i}`, { timeoutMs: 5000 }), `call ${i}`);
    }
  });
});
