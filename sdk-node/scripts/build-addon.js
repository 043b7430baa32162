#!/usr/bin/env node
// install: builds the fast transport's N-API addon with node-gyp, offline. The headers are
// those of the Node that runs this script (its prefix's include/node, e.g. /usr/include/node
// from Debian's nodejs package), so node-gyp never downloads anything. An explicit
// `npm_config_nodedir` (or `nodedir` in .npmrc) wins.
//
// The addon is optional: the legacy transport needs none. It is built on Linux, macOS and
// FreeBSD (the platform layer's linux/, or posix/ with bsd/ and macos/: docs/platforms.md;
// macOS and FreeBSD untested). When it cannot be built (another system such as Windows, no
// headers, no compiler, a compile error) the install still succeeds, prints one
// line saying why, and leaves the reason in build/addon-not-built.txt, where the loader
// (lib/fast/addon.js) finds it and names it in FASTMD_ADDON_UNAVAILABLE, so `auto`'s
// FASTMD_FALLBACK warning and `fast`'s error say why.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { NOT_BUILT_FILE } = require('../lib/fast/addon');
const { findHeader, headerDirs } = require('./native-sources');

const packageDir = path.resolve(__dirname, '..');
// A compiler's error line is long (a path, a position, the message): keep it readable.
const REASON_MAX_CHARS = 300;
// The tail of node-gyp's output kept for the reason (its whole output can be megabytes).
const OUTPUT_TAIL_CHARS = 64 * 1024;

/**
 * Writes `line` to stderr and, when npm hides this script's output (npm 7+ runs install
 * scripts with piped output and drops it when they succeed, unless --foreground-scripts),
 * to the terminal npm runs in, if there is one.
 */
function announce(line) {
  process.stderr.write(`${line}\n`);
  if (process.stderr.isTTY || process.env.npm_config_foreground_scripts === 'true') return;
  let tty;
  try {
    tty = fs.openSync('/dev/tty', 'w');
  } catch {
    return; // no controlling terminal (CI, a service): stderr and the reason file remain
  }
  try {
    fs.writeSync(tty, `${line}\n`);
  } finally {
    fs.closeSync(tty);
  }
}

/** Leaves the package without an addon and says why, at install and for the loader. */
function notBuilt(reason) {
  const oneLine = reason.replace(/\s+/g, ' ').trim().slice(0, REASON_MAX_CHARS);
  fs.rmSync(path.join(packageDir, 'build'), { recursive: true, force: true });
  fs.mkdirSync(path.join(packageDir, 'build'));
  fs.writeFileSync(path.join(packageDir, NOT_BUILT_FILE), `${oneLine}\n`);
  announce(`@fastmd/ipc: the native addon was not built (${oneLine}); ` +
    'the package works over the legacy transport only (see "Installing without the addon" in docs/sdk-node.md)');
  process.exit(0);
}

/** The directory holding include/node/node_api.h for the running Node, or null. */
function localNodeDir() {
  const configured = process.env.npm_config_nodedir;
  if (configured) return configured;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

/**
 * Why node-gyp failed, from its output: the first error a tool printed (the compiler's
 * "file:line: error: …", a shell's "not found"), else make's failed target, else node-gyp's
 * own error, else its exit status.
 */
function failureReason(output, status) {
  const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
  const toolError = lines.find((line) => !line.startsWith('gyp ') && !line.startsWith('make') &&
    /\berror\b|: not found|No such file/i.test(line));
  if (toolError) return `the C++ build failed: ${toolError}`;
  const makeError = lines.find((line) => line.startsWith('make: ***'));
  if (makeError) return `the C++ build failed: ${makeError}`;
  const gypError = lines.find((line) => line.startsWith('gyp ERR! stack Error:'));
  if (gypError) return `node-gyp failed: ${gypError.slice('gyp ERR! stack Error:'.length).trim()}`;
  return `node-gyp exited with status ${status}`;
}

/** The systems whose platform layer the addon can be built with (docs/platforms.md). */
const ADDON_SYSTEMS = ['linux', 'darwin', 'freebsd'];

/** Why the addon is not built on `os` (process.platform), or null when it is tried. */
function unsupportedReason(os) {
  if (ADDON_SYSTEMS.includes(os)) return null;
  return `the fast transport's addon builds on Linux, macOS and FreeBSD, and this is ${os}`;
}

function build() {
  const unsupported = unsupportedReason(process.platform);
  if (unsupported) notBuilt(unsupported);
  const nodedir = localNodeDir();
  if (!nodedir) {
    notBuilt(`Node's headers were not found next to ${process.execPath} (install the package that ` +
      'ships include/node/node_api.h, e.g. Debian\'s nodejs or libnode-dev, or set npm_config_nodedir)');
  }
  if (!findHeader('msgpack.hpp')) {
    notBuilt(`the MessagePack C++ headers (msgpack.hpp) were not found in CPLUS_INCLUDE_PATH, CPATH, ${headerDirs().join(' or ')} ` +
      '(install Debian\'s libmsgpack-cxx-dev, or msgpack-cxx from Homebrew or FreeBSD ports)');
  }
  if (process.env.FASTMD_PLATFORM) {
    // One addon per package directory (build/): a posix build replaces the linux one.
    process.stderr.write(`@fastmd/ipc: building the addon with FASTMD_PLATFORM=${process.env.FASTMD_PLATFORM} ` +
      'into build/, replacing the addon there (run this again without FASTMD_PLATFORM to go back)\n');
  }
  let nodeGyp;
  try {
    nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    notBuilt('node-gyp, a dependency of this package, is missing from node_modules');
  }
  // node-gyp's output goes on to stderr as it comes (a person watching sees the compiler),
  // and its tail is kept to name the failure.
  const child = spawn(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=max'],
    { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk) => {
    process.stderr.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (error) => notBuilt(`node-gyp could not be started: ${error.message}`));
  child.on('close', (status, signal) => {
    if (status === 0) return;
    notBuilt(signal ? `node-gyp was killed by ${signal}` : failureReason(tail, status));
  });
}

module.exports = { unsupportedReason };

if (require.main === module) build();
