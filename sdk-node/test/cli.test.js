'use strict';
// fastmd-transform as a user runs it: --help, stdin to stdout, a directory tree mirrored
// into --out through a private fastmd-ipcd (no daemon reachable) and through legacy workers,
// with the summary line, and usage errors.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');

const { binDir, runNode, tempDir } = require('./support/env');
const { Cluster } = require('./fast-support/cluster');

const cli = path.resolve(__dirname, '..', 'bin', 'fastmd-transform.js');

function tree(t) {
  const dir = tempDir(t, 'fastmd-cli-');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'guide', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(src, 'README.md'), '# Title\n\nSome *text*.\n');
  fs.writeFileSync(path.join(src, 'guide', 'intro.markdown'), '- a\n- b\n');
  fs.writeFileSync(path.join(src, 'guide', 'deep', 'ünï.md'), '`code` ✓\n');
  fs.writeFileSync(path.join(src, 'guide', 'notes.txt'), 'not markdown');
  return { dir, src, out: path.join(dir, 'html') };
}

function checkMirrored(out) {
  assert.equal(fs.readFileSync(path.join(out, 'README.html'), 'utf8'), '<h1>Title</h1>\n<p>Some <em>text</em>.</p>\n');
  assert.equal(fs.readFileSync(path.join(out, 'guide', 'intro.html'), 'utf8'), '<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n');
  assert.equal(fs.readFileSync(path.join(out, 'guide', 'deep', 'ünï.html'), 'utf8'), '<p><code>code</code> ✓</p>\n');
  assert.ok(!fs.existsSync(path.join(out, 'guide', 'notes.html')));
}

const env = (t, extra = {}) => ({
  FASTMD_BIN_DIR: binDir,
  FASTMD_IPC: '',
  FASTMD_IPC_SOCKET: path.join(tempDir(t), 'no-daemon.sock'),
  ...extra,
});

describe('fastmd-transform', () => {
  it('--help prints the usage', async () => {
    const { code, stdout } = await runNode({ args: [cli, '--help'] });
    assert.equal(code, 0);
    assert.match(stdout, /Usage: fastmd-transform/);
    assert.match(stdout, /--workers N/);
  });

  it('transforms stdin to stdout', async (t) => {
    const { code, stdout, stderr } = await runNode({ args: [cli, '--transport', 'legacy'], input: '# From stdin\n', env: env(t) });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, '<h1>From stdin</h1>\n');
    assert.match(stderr, /1 file\(s\).*transport legacy/);
  });

  it('mirrors a directory tree through a private daemon when none is reachable', async (t) => {
    const { src, out } = tree(t);
    const { code, stderr } = await runNode({ args: [cli, '--workers', '2', '--out', out, src], env: env(t) });
    assert.equal(code, 0, stderr);
    checkMirrored(out);
    assert.match(stderr, /3 file\(s\), .* MB\/s, \d+ files\/s; transport fast \(a private fastmd-ipcd with 2 worker\(s\)\)/);
  });

  it('uses the daemon that answers on FASTMD_IPC_SOCKET instead of starting one', async (t) => {
    const { src, out } = tree(t);
    const cluster = new Cluster();
    try {
      await cluster.startDaemon();
      cluster.startWorker();
      const { code, stderr } = await runNode({ args: [cli, '--out', out, src], env: env(t, { FASTMD_IPC_SOCKET: cluster.socket }) });
      assert.equal(code, 0, stderr);
      checkMirrored(out);
      assert.match(stderr, /3 file\(s\).*transport fast \(the fastmd-ipcd at .*ipcd\.sock\)/);
    } finally {
      await cluster.stop();
    }
  });

  it('mirrors a directory tree with --transport legacy', async (t) => {
    const { src, out } = tree(t);
    const { code, stderr } = await runNode({ args: [cli, '--transport', 'legacy', '--workers', '3', '--out', out, src], env: env(t) });
    assert.equal(code, 0, stderr);
    checkMirrored(out);
    assert.match(stderr, /transport legacy \(3 worker process\(es\) over stdio\)/);
  });

  it('shows a progress bar on a terminal for a long run', async (t) => {
    const { src, out } = tree(t);
    for (let i = 0; i < 250; i++) fs.writeFileSync(path.join(src, `page-${i}.md`), `# Page ${i}\n`);
    // script(1) gives the command a pseudo-terminal, as a person's shell would.
    const command = [process.execPath, cli, '--transport', 'legacy', '--out', out, src].map((a) => `'${a}'`).join(' ');
    const output = await new Promise((resolve, reject) => {
      execFile('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...env(t) }, timeout: 60000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
    assert.match(output, /\[[# ]{30}\] \d+\/253 files/);
    assert.match(output, /253 file\(s\)/);
    assert.equal(fs.readFileSync(path.join(out, 'page-249.html'), 'utf8'), '<h1>Page 249</h1>\n');
  });

  it('fails with a usage message (status 2) on a directory without --out', async (t) => {
    const { src } = tree(t);
    const { code, stderr } = await runNode({ args: [cli, src], env: env(t) });
    assert.equal(code, 2);
    assert.match(stderr, /is a directory: say where its HTML goes with --out DIR/);
  });

  it('fails with a usage message (status 2) on a bad --workers', async () => {
    const { code, stderr } = await runNode({ args: [cli, '--workers', 'many'] });
    assert.equal(code, 2);
    assert.match(stderr, /--workers must be an integer/);
  });
});
