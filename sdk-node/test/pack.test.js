'use strict';
// The package as a user gets it: `npm pack` (whose prepack copies the addon's C++ sources
// in), `npm install --offline` of the tarball into a fresh temporary project (the addon is
// compiled there by node-gyp with Node's local headers, nothing downloaded), then the quick
// start of docs/sdk-node.md, copied from the docs, against a private fastmd-ipcd.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { it } = require('node:test');

const { binDir, packageDir, runNode, tempDir } = require('./support/env');
const { Cluster } = require('./fast-support/cluster');

// Compiling the addon at install takes minutes on a busy 2-core machine.
const STEP_MS = 600000;

function run(file, args, options) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: STEP_MS, maxBuffer: 1 << 24, ...options }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The first ```js block under "## Quick start" in docs/sdk-node.md. */
function quickStart() {
  const docs = fs.readFileSync(path.resolve(packageDir, '..', 'docs', 'sdk-node.md'), 'utf8');
  const section = docs.slice(docs.indexOf('## Quick start'));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(match, 'docs/sdk-node.md has a ```js block under "## Quick start"');
  return match[1];
}

it('packs, installs offline into a fresh project, and runs the quick start from the docs', async (t) => {
  const dir = tempDir(t, 'fastmd-pack-');
  await run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: packageDir });
  const tarballs = fs.readdirSync(dir).filter((name) => name.endsWith('.tgz'));
  assert.deepEqual(tarballs, ['fastmd-ipc-0.1.0.tgz']);

  const project = path.join(dir, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'quickstart', version: '1.0.0', private: true }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(dir, tarballs[0])], { cwd: project });
  const installed = path.join(project, 'node_modules', '@fastmd', 'ipc');
  assert.ok(fs.existsSync(path.join(installed, 'build', 'Release', 'fastmd_ipc.node')), 'the addon was built at install');
  assert.ok(fs.existsSync(path.join(project, 'node_modules', '.bin', 'fastmd-transform')), 'the CLI is linked');

  fs.writeFileSync(path.join(project, 'quickstart.js'), quickStart());
  const cluster = new Cluster();
  try {
    await cluster.startDaemon();
    cluster.startWorker();
    const { code, stdout, stderr } = await runNode({
      cwd: project,
      args: ['quickstart.js'],
      env: { FASTMD_IPC_SOCKET: cluster.socket, FASTMD_BIN_DIR: binDir, FASTMD_IPC: '' },
    });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, '<h1>Hello, <em>world</em>!</h1>\n\ntransport: fast\n');
  } finally {
    await cluster.stop();
  }
});
