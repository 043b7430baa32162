'use strict';
// fastmd-transform as a user runs it: --help (and the man page made from it), --version,
// stdin to stdout, a directory tree mirrored into --out through the per-user fastmd-ipcd
// (nothing configured), through a configured daemon and through legacy workers, with the summary line, and usage errors.
// Inputs it cannot convert: cli-inputs.test.js.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');

const { binDir, packageDir, runNode, tempDir } = require('./support/env');
const { Cluster } = require('./fast-support/cluster');
const { assertIdleExitLeavesNothing, userDaemonPid, zeroConfigEnv } = require('./support/user-daemon');
const { currentPage, page } = require('../scripts/man-page');

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
  it('--help and -h print the usage, the exit statuses and the environment', async () => {
    const long = await runNode({ args: [cli, '--help'] });
    const short = await runNode({ args: [cli, '-h'] });
    assert.equal(long.code, 0);
    assert.equal(short.code, 0);
    assert.equal(short.stdout, long.stdout);
    assert.match(long.stdout, /^Usage: fastmd-transform \[options\] \[INPUT\.\.\.\]\n/);
    assert.match(long.stdout, /--workers N/);
    assert.match(long.stdout, /Exit status:\n {2}0 {3}every input was converted\n {2}1 {3}some inputs failed/);
    assert.match(long.stdout, /FASTMD_BIN_DIR/);
  });

  it('--version prints the package version', async () => {
    const { code, stdout } = await runNode({ args: [cli, '--version'] });
    assert.equal(code, 0);
    const { version } = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
    assert.equal(stdout, `fastmd-transform ${version}\n`);
  });

  it('has a man page that says what --help says, listed in package.json', () => {
    assert.equal(fs.readFileSync(page, 'utf8'), currentPage(),
      'man/fastmd-transform.1 differs from --help: run `node scripts/man-page.js --write`');
    const { man, files } = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
    assert.deepEqual(man, [path.relative(packageDir, page)]);
    assert.ok(files.includes('man/'));
  });

  it('names a wrong option, lists the right ones and points at --help (status 2)', async () => {
    const { code, stdout, stderr } = await runNode({ args: [cli, '--wokers', '2', 'a.md'] });
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(stderr, "fastmd-transform: unknown option '--wokers'; the options are --out, --workers, --transport, " +
      "--socket, --quiet, -h/--help, --version (a file whose name starts with '-' goes after '--')\n" +
      "Try 'fastmd-transform --help' for more information.\n");
    const missing = await runNode({ args: [cli, 'a.md', '--out'] });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^fastmd-transform: --out needs a value\n/);
  });

  it('transforms stdin to stdout', async (t) => {
    const { code, stdout, stderr } = await runNode({ args: [cli, '--transport', 'legacy'], input: '# From stdin\n', env: env(t) });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, '<h1>From stdin</h1>\n');
    assert.match(stderr, /1 file\(s\).*transport legacy/);
  });

  it('mirrors a directory tree through the per-user daemon when nothing is configured, which exits when idle', async (t) => {
    const { src, out } = tree(t);
    const runtime = tempDir(t, 'fastmd-runtime-');
    // 3 s of idleness before the daemon exits: time to read its pid once the run is over.
    const { code, stderr } = await runNode({ args: [cli, '--out', out, src], env: zeroConfigEnv(runtime, 3) });
    const pid = userDaemonPid(runtime);
    assert.equal(code, 0, stderr);
    checkMirrored(out);
    const socket = path.join(runtime, 'fastmd', 'ipcd.sock');
    assert.ok(stderr.includes(`3 file(s) converted`), stderr);
    assert.ok(stderr.includes(`; transport fast (the per-user fastmd-ipcd at ${socket}, started for this run)`), stderr);
    await assertIdleExitLeavesNothing(pid, runtime);
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
