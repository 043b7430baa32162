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
 * The argv prefix under which file permissions bind a child even when the tests run as root
 * (CI does): util-linux's setpriv drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its
 * bounding set, so a mode-000 file or directory is unreadable to it as to anyone. Empty when
 * not root, where they bind already.
 */
function permissionsBind() {
  return process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--'] : [];
}

/**
 * Runs `node -e script` (or `node file args`) with `env` added, under `launcher` (an argv
 * prefix such as permissionsBind()) if given; resolves with {code, signal, stdout, stderr,
 * ms}. Kills it and rejects after `timeoutMs`.
 */
function runNode({ script, args = [], env = {}, input, timeoutMs = 30000, cwd = packageDir, launcher = [] }) {
  const command = [...launcher, process.execPath, ...(script === undefined ? args : ['-e', script, ...args])];
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command[0], command.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text) => { stdout += text; });
    child.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command.join(' ').slice(0, 200)} did not exit within ${timeoutMs} ms\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(input);
  });
}

/** Whether process `pid` still exists (signal 0 reaches it). */
function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

module.exports = { binDir, binary, legacyWorker, tempDir, runNode, permissionsBind, packageDir, processAlive };
