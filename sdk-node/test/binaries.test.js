'use strict';
// Where the SDK finds fastmd-worker-md and fastmd-ipcd (lib/binaries.js): FASTMD_BIN_DIR
// first, and when an executable is nowhere, an error listing every place it looked and what
// to install. Outside a checkout (an installed tarball) pack.test.js checks the same error
// and the PATH lookup a Debian install relies on.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');

const { binDir, packageDir, runNode, tempDir } = require('./support/env');

const lookup = `
const { findBinary } = require(${JSON.stringify(path.join(packageDir, 'lib', 'binaries.js'))});
try {
  console.log(JSON.stringify({ found: findBinary(process.argv[1]) }));
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}`;

async function find(name, env, { asPlatform } = {}) {
  const pretend = asPlatform ? `Object.defineProperty(process, 'platform', { value: '${asPlatform}' });\n` : '';
  const { code, stdout, stderr } = await runNode({ script: pretend + lookup, args: [name], env });
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout);
}

describe('finding fastmd executables', () => {
  it('takes the one in FASTMD_BIN_DIR first', async () => {
    const { found } = await find('fastmd-worker-md', { FASTMD_BIN_DIR: binDir });
    assert.equal(found, path.join(binDir, 'fastmd-worker-md'));
  });

  it('lists every place it looked and what to install when an executable is nowhere', async (t) => {
    const dir = tempDir(t);
    const pathDirs = [path.join(dir, 'one'), path.join(dir, 'two')];
    pathDirs.forEach((entry) => fs.mkdirSync(entry));
    const binDirEnv = path.join(dir, 'bin-dir');
    const { code, message } = await find('fastmd-nonesuch', { FASTMD_BIN_DIR: binDirEnv, PATH: pathDirs.join(path.delimiter) });
    assert.equal(code, 'FASTMD_WORKER_UNAVAILABLE');
    const checkout = path.resolve(packageDir, '..');
    assert.equal(message, 'fastmd-nonesuch was not found. Looked in ' +
      `FASTMD_BIN_DIR: ${binDirEnv}; this checkout's build: ${path.join(checkout, 'build', 'bin')}; ` +
      `PATH: ${pathDirs.join(', ')}; sbin: /usr/local/sbin, /usr/sbin. To get it: build it in this checkout ` +
      '(scripts/build), install the Debian package fastmd-ipc, or set FASTMD_BIN_DIR to the directory holding fastmd-nonesuch');
  });

  it('looks for name.exe on Windows, and in no sbin', async (t) => {
    const dir = tempDir(t);
    const exe = path.join(dir, 'fastmd-worker-md.exe');
    fs.writeFileSync(exe, '');
    fs.chmodSync(exe, 0o755);
    const { found } = await find('fastmd-worker-md', { FASTMD_BIN_DIR: dir }, { asPlatform: 'win32' });
    assert.equal(found, exe);
    const { message } = await find('fastmd-nonesuch', { FASTMD_BIN_DIR: dir, PATH: '' }, { asPlatform: 'win32' });
    assert.match(message, new RegExp(`^fastmd-nonesuch\\.exe was not found\\. Looked in FASTMD_BIN_DIR: ${dir}; this checkout's build: [^;]*\\. To get it: `));
  });

  it('says FASTMD_BIN_DIR is not set, and lists a directory once however often PATH names it', async (t) => {
    const dir = tempDir(t);
    const { message } = await find('fastmd-nonesuch', { FASTMD_BIN_DIR: '', PATH: [dir, dir, '/usr/sbin'].join(path.delimiter) });
    assert.match(message, new RegExp(`^fastmd-nonesuch was not found\\. Looked in FASTMD_BIN_DIR: not set; .*; PATH: ${dir}, /usr/sbin; sbin: /usr/local/sbin\\. `));
  });
});
