'use strict';
// The package as a user gets it: `npm pack` (whose prepack copies the addon's C++ sources
// in), checked for size and contents, then `npm install --offline` of the tarball into fresh
// temporary projects: once where the addon builds (node-gyp with Node's local headers,
// nothing downloaded) and the quick start of docs/sdk-node.md runs over the fast path, and
// once where the C++ compiler fails, so the install must still succeed, say why in one line,
// and leave a package that works over the legacy path with the reason in FASTMD_FALLBACK.
// The projects install offline from a lockfile (support/offline-project.js says why).

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, it } = require('node:test');

const { binDir, packageDir, runNode, tempDir } = require('./support/env');
const { Cluster } = require('./fast-support/cluster');
const { INSTALL_ARGS, newProject } = require('./support/offline-project');
const { assertIdleExitLeavesNothing, userDaemonPid, zeroConfigEnv } = require('./support/user-daemon');

// Compiling the addon at install takes minutes on a busy 2-core machine.
const STEP_MS = 600000;
// The tarball is sources only; the addon's build output or node_modules would be megabytes.
const MAX_TARBALL_BYTES = 256 * 1024;
const TARBALL = 'fastmd-ipc-0.1.0.tgz';
const BROKEN_COMPILER_ERROR = 'broken-c++: error: this compiler fails on purpose (pack.test.js)';

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


describe('the packed tarball', () => {
  let tarball;
  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-pack-'));
    await run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: packageDir });
    assert.deepEqual(fs.readdirSync(dir), [TARBALL]);
    tarball = path.join(dir, TARBALL);
  });
  after(() => fs.rmSync(path.dirname(tarball), { recursive: true, force: true }));

  it('is small, holds the sources, the CLI and its man page and no build output, and names no os', async () => {
    const size = fs.statSync(tarball).size;
    assert.ok(size < MAX_TARBALL_BYTES, `the tarball is ${size} bytes, more than ${MAX_TARBALL_BYTES}`);
    const files = (await run('tar', ['-tzf', tarball])).split('\n').filter(Boolean);
    for (const file of ['package/bin/fastmd-transform.js', 'package/man/fastmd-transform.1', 'package/binding.gyp',
      'package/scripts/build-addon.js', 'package/native/vendor-src/sdk-cpp/src/shm/segment.cpp']) {
      assert.ok(files.includes(file), `${file} is in the tarball`);
    }
    const unwanted = files.filter((file) => /^package\/(build|test|node_modules)\/|\.node$/.test(file));
    assert.deepEqual(unwanted, []);
    // Installable on any OS Node runs on: the legacy path needs no addon.
    const manifest = JSON.parse(await run('tar', ['-xzOf', tarball, 'package/package.json']));
    assert.equal(manifest.os, undefined);
    assert.equal(manifest.cpu, undefined);
  });

  describe('installed offline into a fresh project', () => {
    let project;
    before(async () => {
      project = newProject(fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-pack-')), 'quickstart', tarball);
      await run('npm', INSTALL_ARGS, { cwd: project });
    });
    after(() => fs.rmSync(path.dirname(project), { recursive: true, force: true }));

    it('builds the addon, links the CLI, and runs the quick start from the docs', async () => {
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

    it('connects fast with nothing configured: two processes at once share one per-user daemon, gone when idle', async (t) => {
      const runtime = tempDir(t, 'fastmd-runtime-');
      const env = zeroConfigEnv(runtime);
      // The one-liner, and at the same moment a second process that says where it went.
      const oneLiner = runNode({ cwd: project, env, script: "require('@fastmd/ipc').connect().then(c => console.log(c.transport))" });
      const second = runNode({
        cwd: project,
        env,
        script: `
          const fs = require('node:fs');
          require('@fastmd/ipc').connect().then(async (c) => {
            const pid = fs.readFileSync(${JSON.stringify(path.join(runtime, 'fastmd', 'ipcd.sock.lock'))}, 'utf8').trim();
            console.log(JSON.stringify({ ...c.transportInfo, pid: Number(pid) }));
            await c.close();
          });`,
      });
      const [first, other] = await Promise.all([oneLiner, second]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, 'fast\n');
      assert.doesNotMatch(first.stderr, /FASTMD_FALLBACK/);
      assert.equal(other.code, 0, other.stderr);
      const info = JSON.parse(other.stdout);
      assert.equal(info.transport, 'fast');
      assert.match(info.source, /^user-(started|running)$/);
      assert.equal(info.socketPath, path.join(runtime, 'fastmd', 'ipcd.sock'));
      const pid = userDaemonPid(runtime);
      assert.equal(info.pid, pid, 'both processes found the same daemon');
      const log = fs.readFileSync(path.join(runtime, 'fastmd', 'ipcd.log'), 'utf8');
      assert.equal(log.match(/listening on/g)?.length, 1, `one daemon started:\n${log}`);
      assert.doesNotMatch(log, /another fastmd-ipcd/);
      await assertIdleExitLeavesNothing(pid, runtime);
    });
  });

  describe('installed where the addon cannot be built', () => {
    let dir;
    let project;
    let installOutput;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-pack-nocxx-'));
      project = newProject(dir, 'no-compiler', tarball);
      const compiler = path.join(dir, 'broken-c++');
      fs.writeFileSync(compiler, `#!/bin/sh\necho '${BROKEN_COMPILER_ERROR}' >&2\nexit 1\n`, { mode: 0o755 });
      // On a terminal, as a person runs it: npm hides a successful install script's output
      // unless --foreground-scripts, so the line must reach the terminal by itself.
      // script(1) gives npm a pseudo-terminal and records what appears on it.
      const command = ['npm', ...INSTALL_ARGS].map((arg) => `'${arg}'`).join(' ');
      installOutput = await run('script', ['-qec', command, '/dev/null'],
        { cwd: project, env: { ...process.env, CXX: compiler, CC: compiler } });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const installed = () => path.join(project, 'node_modules', '@fastmd', 'ipc');
    const notBuiltLine = '@fastmd/ipc: the native addon was not built (the C++ build failed: ' +
      `${BROKEN_COMPILER_ERROR}); the package works over the legacy transport only`;

    it('still installs, and says in one line on the terminal that the addon was not built and why', () => {
      assert.equal(installOutput.split(notBuiltLine).length - 1, 1, `one "${notBuiltLine}" in:\n${installOutput}`);
      assert.ok(!fs.existsSync(path.join(installed(), 'build', 'Release', 'fastmd_ipc.node')));
      assert.equal(fs.readFileSync(path.join(installed(), 'build', 'addon-not-built.txt'), 'utf8'),
        `the C++ build failed: ${BROKEN_COMPILER_ERROR}\n`);
      assert.ok(fs.existsSync(path.join(project, 'node_modules', '.bin', 'fastmd-transform')), 'the CLI is linked');
    });

    it('works over legacy with a worker found on PATH, and names the reason in FASTMD_FALLBACK and in fast\'s error', async () => {
      const script = `
        const { connect } = require('@fastmd/ipc');
        const warnings = [];
        process.on('warning', (warning) => warnings.push({ code: warning.code, message: warning.message }));
        (async () => {
          const client = await connect();
          const html = await client.transform('# Hi\\n');
          await client.close();
          let fastError = null;
          await connect({ transport: 'fast' }).catch((error) => { fastError = { code: error.code, message: error.message }; });
          await new Promise((resolve) => setImmediate(resolve));
          console.log(JSON.stringify({ transport: client.transport, html, warnings, fastError }));
        })();`;
      // PATH is only the build's bin directory, standing in for /usr/bin of the Debian package.
      const { code, stdout, stderr } = await runNode({ cwd: project, script, env: { FASTMD_BIN_DIR: '', PATH: binDir, FASTMD_IPC: '' } });
      assert.equal(code, 0, stderr);
      const { transport, html, warnings, fastError } = JSON.parse(stdout);
      assert.equal(transport, 'legacy');
      assert.equal(html, '<h1>Hi</h1>\n');
      const reason = 'the @fastmd/ipc native addon was not built when the package was installed: ' +
        `the C++ build failed: ${BROKEN_COMPILER_ERROR} (fix that, then run \`npm rebuild @fastmd/ipc\`)`;
      assert.deepEqual(warnings, [{
        code: 'FASTMD_FALLBACK',
        message: `@fastmd/ipc: the fast transport is unavailable (FASTMD_ADDON_UNAVAILABLE: ${reason}); ` +
          'using the legacy NDJSON transport. Set FASTMD_IPC=legacy to choose it without this warning.',
      }]);
      assert.deepEqual(fastError, { code: 'FASTMD_ADDON_UNAVAILABLE', message: reason });
    });

    it('runs fastmd-transform over legacy', async () => {
      const { code, stdout, stderr } = await runNode({
        cwd: project,
        args: [path.join(project, 'node_modules', '.bin', 'fastmd-transform')],
        input: '# From the installed CLI\n',
        env: { FASTMD_BIN_DIR: binDir, FASTMD_IPC: '' },
      });
      assert.equal(code, 0, stderr);
      assert.equal(stdout, '<h1>From the installed CLI</h1>\n');
      assert.match(stderr, /\[FASTMD_FALLBACK\] Warning: @fastmd\/ipc: the fast transport is unavailable \(FASTMD_ADDON_UNAVAILABLE: /);
      assert.ok(stderr.includes(BROKEN_COMPILER_ERROR), stderr);
      assert.match(stderr, /1 file\(s\) converted, .*transport legacy/);
    });

    it('lists the places it looked, and no checkout path, when the worker is nowhere', async () => {
      const empty = path.join(dir, 'empty-bin');
      fs.mkdirSync(empty, { recursive: true });
      const script = `require('@fastmd/ipc').connect({ transport: 'legacy' })
        .catch((error) => console.log(JSON.stringify({ code: error.code, message: error.message })));`;
      const { stdout, stderr } = await runNode({ cwd: project, script, env: { FASTMD_BIN_DIR: '', PATH: empty } });
      const { code, message } = JSON.parse(stdout || stderr);
      assert.equal(code, 'FASTMD_WORKER_UNAVAILABLE');
      assert.equal(message, 'fastmd-worker-md was not found. Looked in FASTMD_BIN_DIR: not set; ' +
        `PATH: ${empty}; sbin: /usr/local/sbin, /usr/sbin. To get it: install the Debian package fastmd-ipc ` +
        '(apt install fastmd-ipc), or build fastmd-ipc from source and put the directory holding it on PATH or in FASTMD_BIN_DIR');
    });

    it('says the install script did not run when there is no build at all', async () => {
      // What `npm install --ignore-scripts` (or an allowScripts policy) leaves: no build/.
      const copy = path.join(dir, 'ignored-scripts');
      fs.cpSync(path.join(project, 'node_modules'), path.join(copy, 'node_modules'), { recursive: true, verbatimSymlinks: true });
      fs.rmSync(path.join(copy, 'node_modules', '@fastmd', 'ipc', 'build'), { recursive: true });
      const script = `require('@fastmd/ipc').connect({ transport: 'fast' })
        .catch((error) => console.log(JSON.stringify({ code: error.code, message: error.message })));`;
      const { stdout, stderr } = await runNode({ cwd: copy, script });
      assert.deepEqual(JSON.parse(stdout || stderr), {
        code: 'FASTMD_ADDON_UNAVAILABLE',
        message: 'the @fastmd/ipc native addon was never built: the package\'s install script did not run ' +
          '(npm --ignore-scripts, or an allowScripts policy that does not cover @fastmd/ipc); run `npm rebuild @fastmd/ipc`',
      });
    });

    // Runs the installed package's install script with `preloadSource` loaded first (to make
    // it see another system), and checks that it skipped the build with `reason`, said so in
    // one line and left the reason for the loader.
    async function assertInstallScriptSkipsBuild(name, preloadSource, reason) {
      const preload = path.join(dir, `${name}.js`);
      fs.writeFileSync(preload, preloadSource);
      const { code, stderr } = await runNode({
        cwd: installed(),
        args: ['--require', preload, path.join('scripts', 'build-addon.js')],
        env: { npm_config_foreground_scripts: 'true' },
      });
      assert.equal(code, 0, stderr);
      assert.equal(stderr, `@fastmd/ipc: the native addon was not built (${reason}); the package works over the legacy ` +
        'transport only (see "Installing without the addon" in docs/sdk-node.md)\n');
      assert.equal(fs.readFileSync(path.join(installed(), 'build', 'addon-not-built.txt'), 'utf8'), `${reason}\n`);
    }

    it('skips the build with the reason on a system without the addon\'s platform layer', async () => {
      // The install script as npm runs it on Windows: process.platform is what it checks.
      await assertInstallScriptSkipsBuild('as-win32',
        "Object.defineProperty(process, 'platform', { value: 'win32' });\n",
        'the fast transport\'s addon builds on Linux, macOS and FreeBSD, and this is win32');
    });

    it('names the Debian package when the MessagePack headers are missing', async () => {
      // A Linux machine without libmsgpack-cxx-dev: no msgpack.hpp in any include directory.
      await assertInstallScriptSkipsBuild('without-msgpack',
        "const fs = require('node:fs'); const exists = fs.existsSync;\n" +
        "fs.existsSync = (file) => !String(file).endsWith('msgpack.hpp') && exists(file);\n",
        'the MessagePack C++ headers (msgpack.hpp) were not found in CPLUS_INCLUDE_PATH, CPATH, ' +
        '/usr/local/include or /usr/include (install Debian\'s libmsgpack-cxx-dev, or msgpack-cxx from ' +
        'Homebrew or FreeBSD ports)');
    });
  });
});
