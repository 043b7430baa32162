'use strict';
// Every example of the CommonMark spec (npm package commonmark-spec) through
// client.transform gives exactly md4c's in-process output (the worker's md_html call, run
// in this test without any IPC), over the legacy transport and over the fast transport with
// a private fastmd-ipcd. md4c's own pass rate against the spec's expected HTML is printed:
// it is md4c's, not ours, but it should be known.

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');
const { tests: examples } = require('commonmark-spec');

const { connect } = require('..');
const { legacyWorker, tempDir } = require('./support/env');
const { renderInProcess } = require('./support/md4c-reference');
const { Cluster, waitFor } = require('./fast-support/cluster');

let expected;
before(() => {
  const t = { after };
  expected = renderInProcess(examples.map((e) => e.markdown), tempDir(t, 'fastmd-md4c-'));
});

it('md4c in-process vs the spec\'s expected HTML (informational)', (t) => {
  const passing = examples.filter((example, i) => expected[i] === example.html).length;
  t.diagnostic(`md4c (MD_DIALECT_GITHUB) matches the spec's HTML in ${passing} of ${examples.length} examples`);
  assert.ok(passing > 0);
});

async function checkAll(client) {
  const results = await Promise.all(examples.map((example) => client.transform(example.markdown)));
  const differing = examples.filter((example, i) => results[i] !== expected[i]).map((e) => e.number);
  assert.deepEqual(differing, [], `examples whose HTML differs from md4c in-process: ${differing.join(', ')}`);
  const bytes = await Promise.all(examples.map((example) => client.transform(Buffer.from(example.markdown))));
  bytes.forEach((html, i) => assert.ok(html.equals(Buffer.from(expected[i])), `example ${examples[i].number} as bytes`));
}

describe('CommonMark spec examples', () => {
  it(`all ${examples.length} through the legacy transport`, async () => {
    const client = await connect({ transport: 'legacy', workerCommand: legacyWorker(), workers: 2, timeoutMs: 60000 });
    try {
      await checkAll(client);
    } finally {
      await client.close();
    }
  });

  it(`all ${examples.length} through the fast transport`, async () => {
    const cluster = new Cluster();
    try {
      await cluster.startDaemon();
      cluster.startWorker();
      const client = await connect({ transport: 'fast', socket: cluster.socket, timeoutMs: 60000 });
      try {
        assert.equal(client.transport, 'fast');
        // A method no live worker serves is METHOD_NOT_FOUND at once: wait for the worker's hello.
        await waitFor(() => client.workers.length === 1, 10000, 'the worker to be introduced');
        await checkAll(client);
      } finally {
        await client.close();
      }
    } finally {
      await cluster.stop();
    }
  });
});
