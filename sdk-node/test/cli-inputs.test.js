'use strict';
// fastmd-transform on inputs it cannot convert, over both transports: a tree of good files
// mixed with an unreadable file, an unreadable subdirectory, a binary file, a file that is not
// UTF-8 and a dangling symbolic link, plus a missing input. Every good file is converted, each
// bad one is listed once with its path and reason, and the status is 1. Permissions are made
// to bind even when the tests run as root (support/env.js permissionsBind()).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');

const { permissionsBind, runNode, tempDir } = require('./support/env');
const { zeroConfigEnv } = require('./support/user-daemon');

const cli = path.resolve(__dirname, '..', 'bin', 'fastmd-transform.js');

// Nothing configured: the fast path goes to a per-user daemon in a temporary runtime directory.
const env = (t) => zeroConfigEnv(tempDir(t, 'fastmd-runtime-'));

/** The mixed tree; `lock()` takes the read permissions away, `unlock()` gives them back. */
function mixedTree(t) {
  const dir = tempDir(t, 'fastmd-cli-inputs-');
  const src = path.join(dir, 'src');
  const file = (relative, content) => {
    fs.mkdirSync(path.dirname(path.join(src, relative)), { recursive: true });
    fs.writeFileSync(path.join(src, relative), content);
  };
  file('good.md', '# Good\n');
  file('guide/also-good.markdown', '*also*\n');
  file('unreadable.md', '# secret\n');
  file('locked/inside.md', '# inside\n');
  file('binary.md', Buffer.from('# x\0y\n'));
  file('latin1.md', Buffer.from('caf\xe9\n', 'latin1'));
  file('notes.txt', 'not Markdown: neither converted nor reported\n');
  fs.symlinkSync('gone.md', path.join(src, 'dangling.md'));
  const locked = [path.join(src, 'unreadable.md'), path.join(src, 'locked')];
  return {
    dir,
    src,
    out: path.join(dir, 'html'),
    missing: path.join(dir, 'missing.md'),
    lock: () => locked.forEach((entry) => fs.chmodSync(entry, 0o000)),
    unlock: () => locked.forEach((entry) => fs.chmodSync(entry, 0o755)),
  };
}

/** The listed failures: every stderr line but the summary. */
function failureLines(stderr) {
  return stderr.split('\n').filter((line) => line.startsWith('fastmd-transform: ') && !/ file\(s\) converted/.test(line));
}

for (const transport of ['legacy', 'fast']) {
  describe(`fastmd-transform over ${transport}, with inputs it cannot convert`, () => {
    it('converts every good file, lists each bad one with its path and reason, and exits 1', async (t) => {
      const tree = mixedTree(t);
      tree.lock();
      let result;
      try {
        result = await runNode({
          launcher: permissionsBind(),
          args: [cli, '--transport', transport, '--workers', '2', '--out', tree.out, tree.src, tree.missing],
          env: env(t),
        });
      } finally {
        tree.unlock();
      }
      const { code, stdout, stderr } = result;
      assert.equal(code, 1, stderr);
      assert.equal(stdout, '');
      assert.equal(fs.readFileSync(path.join(tree.out, 'good.html'), 'utf8'), '<h1>Good</h1>\n');
      assert.equal(fs.readFileSync(path.join(tree.out, 'guide', 'also-good.html'), 'utf8'), '<p><em>also</em></p>\n');
      const written = fs.readdirSync(tree.out, { recursive: true }).sort();
      assert.deepEqual(written, ['good.html', 'guide', path.join('guide', 'also-good.html')]);

      const src = tree.src;
      assert.deepEqual(failureLines(stderr), [
        `fastmd-transform: ${src}/binary.md: not converted: a binary file (a NUL byte at offset 3)`,
        `fastmd-transform: ${src}/dangling.md: dangling symbolic link: its target gone.md does not exist`,
        `fastmd-transform: ${src}/latin1.md: not converted: not valid UTF-8`,
        `fastmd-transform: ${src}/locked: cannot read directory: permission denied`,
        `fastmd-transform: ${src}/unreadable.md: cannot read: permission denied`,
        `fastmd-transform: ${tree.missing}: no such file or directory`,
      ]);
      const how = transport === 'fast' ? 'the per-user fastmd-ipcd at .*, started for this run' : '2 worker process\\(es\\) over stdio';
      assert.match(stderr, new RegExp(`\\n?fastmd-transform: 2 file\\(s\\) converted, 6 failed \\(listed above\\), .*transport ${transport} \\(${how}\\)\\n$`));
      assert.doesNotMatch(stderr, /Usage:/);
    });

    it('reports a missing single input without the usage text, and starts no workers', async (t) => {
      const dir = tempDir(t);
      const missing = path.join(dir, 'nope.md');
      const { code, stdout, stderr } = await runNode({ args: [cli, '--transport', transport, missing], env: env(t) });
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.equal(stderr, `fastmd-transform: ${missing}: no such file or directory\n` +
        'fastmd-transform: 0 file(s) converted, 1 failed (listed above), 0 B of Markdown -> 0 B of HTML\n');
    });
  });
}

describe('fastmd-transform, where its output goes wrong', () => {
  it('names the output path it could not write, not the input', async (t) => {
    const dir = tempDir(t);
    const input = path.join(dir, 'page.md');
    fs.writeFileSync(input, '# page\n');
    const out = path.join(dir, 'out');
    fs.writeFileSync(out, 'a file where --out wants a directory');
    const { code, stderr } = await runNode({ args: [cli, '--transport', 'legacy', '--quiet', '--out', out, input], env: env(t) });
    assert.equal(code, 1);
    assert.equal(stderr, `fastmd-transform: ${input}: cannot write ${out}: file already exists\n`);
  });

  it('refuses to let two inputs overwrite one HTML file', async (t) => {
    const dir = tempDir(t);
    for (const sub of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, sub));
      fs.writeFileSync(path.join(dir, sub, 'README.md'), `# ${sub}\n`);
    }
    const out = path.join(dir, 'out');
    const { code, stderr } = await runNode({
      args: [cli, '--transport', 'legacy', '--quiet', '--out', out, path.join(dir, 'a', 'README.md'), path.join(dir, 'b', 'README.md')],
      env: env(t),
    });
    assert.equal(code, 1);
    assert.equal(stderr, `fastmd-transform: ${dir}/b/README.md: not converted: its HTML would overwrite ${out}/README.html, ` +
      `written from ${dir}/a/README.md\n`);
    assert.equal(fs.readFileSync(path.join(out, 'README.html'), 'utf8'), '<h1>a</h1>\n');
  });

  it('exits 3 with the reason when --transport fast finds no daemon at --socket', async (t) => {
    const dir = tempDir(t);
    const input = path.join(dir, 'page.md');
    fs.writeFileSync(input, '# page\n');
    const socket = path.join(dir, 'absent.sock');
    const { code, stdout, stderr } = await runNode({ args: [cli, '--transport', 'fast', '--socket', socket, input], env: env(t) });
    assert.equal(code, 3);
    assert.equal(stdout, '');
    assert.match(stderr, new RegExp(`^fastmd-transform: cannot start the workers: .*${socket}.*\\(FASTMD_DAEMON_UNREACHABLE\\)\\n$`));
  });
});
