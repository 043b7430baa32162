'use strict';
// What the Node SDK's tests share: the fastmd executables under test (FASTMD_BIN_DIR, else
// the repository's build/bin), temporary directories removed after the test, and a child
// Node process run with a bounded wait.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const binDir = process.env.FASTMD_BIN_DIR || path.resolve(__dirname, '..', '..', '..', 'build', 'bin');
const packageDir = path.resolve(__dirname, '..', '..');

/** The path of a built executable; throws a clear error when it is missing. */
function binary(name) {
  const file = path.join(binDir, name);
  assert.ok(fs.existsSync(file), `${file} is missing: build it (scripts/build) or set FASTMD_BIN_DIR`);
  return file;
}

/** The reference worker's argv for the legacy transport. */
function legacyWorker() {
  return [binary('fastmd-worker-md'), '--stdio'];
}

/** A fresh temporary directory, removed when the test `t` ends. */
function tempDir(t, prefix = 'fastmd-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Runs `node -e script` (or `node file args`) with `env` added; resolves with
 * {code, signal, stdout, stderr, ms}. Kills it and rejects after `timeoutMs`.
 */
function runNode({ script, args = [], env = {}, input, timeoutMs = 30000, cwd = packageDir }) {
  const argv = script === undefined ? args : ['-e', script, ...args];
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, argv, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text) => { stdout += text; });
    child.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${argv.join(' ').slice(0, 200)} did not exit within ${timeoutMs} ms\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(input);
  });
}

module.exports = { binDir, binary, legacyWorker, tempDir, runNode, packageDir };
