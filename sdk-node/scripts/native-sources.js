#!/usr/bin/env node
// Prints, for binding.gyp, the C++ sources the addon compiles (`sources`) or the include
// directories it needs (`includes`), one per line, relative to sdk-node/. The shared C++
// comes from the repository when this package sits in it, else from native/vendor-src.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.resolve(__dirname, '..');

/** The directory holding sdk-cpp/ and proto/: the repository, or the vendored copy. */
function sharedRoot() {
  const inRepo = path.join(packageDir, '..');
  if (fs.existsSync(path.join(inRepo, 'sdk-cpp', 'src', 'platform'))) return '..';
  const vendored = path.join('native', 'vendor-src');
  if (fs.existsSync(path.join(packageDir, vendored, 'sdk-cpp'))) return vendored;
  throw new Error('@fastmd/ipc: the C++ sources of sdk-cpp are missing (neither ../sdk-cpp ' +
                  'nor native/vendor-src exists); reinstall the package');
}

/** Files of `dir` (relative to sdk-node/) ending in `ext`, sorted, as gyp paths. */
function listFiles(dir, ext) {
  const absolute = path.join(packageDir, dir);
  if (!fs.existsSync(absolute)) return [];
  return fs.readdirSync(absolute).filter((name) => name.endsWith(ext)).sort()
    .map((name) => path.posix.join(dir.split(path.sep).join('/'), name));
}

/** The shared C++ sources, relative to the shared root (also used by the vendoring step). */
const sharedSourceDirs = ['sdk-cpp/src/platform', 'sdk-cpp/src/platform/linux', 'sdk-cpp/src/shm',
  'sdk-cpp/src/transport'];
const sharedSourceFiles = ['sdk-cpp/src/ipc/control_connection.cpp',
  // The client core: the addon's FastClient drives the C++ SDK's Client.
  'sdk-cpp/src/ipc/client.cpp', 'sdk-cpp/src/ipc/endpoint.cpp', 'sdk-cpp/src/ipc/lent_blocks.cpp',
  // Payload placement and resolution, and batched requests: the core's, as the C++ Client's.
  'sdk-cpp/src/ipc/payload.cpp', 'sdk-cpp/src/ipc/request_batch.cpp',
  // locateDaemon: `auto`, the per-user daemon and rollout, decided once in the C++ SDK.
  'sdk-cpp/src/ipc/daemon_locator.cpp', 'sdk-cpp/src/ipc/executable_search.cpp',
  'sdk-cpp/src/ipc/proc_stat.cpp', 'sdk-cpp/src/ipc/rollout.cpp', 'sdk-cpp/src/ipc/user_daemon_dir.cpp'];
const sharedIncludeDirs = ['sdk-cpp/include', 'proto/include', 'sdk-cpp/src/ipc', 'sdk-cpp/src/transport'];

function sources() {
  const root = sharedRoot();
  return [
    ...listFiles('native', '.cc'),
    ...sharedSourceDirs.flatMap((dir) => listFiles(path.join(root, dir), '.cpp')),
    ...sharedSourceFiles.map((file) => path.posix.join(root, file)),
  ];
}

function includes() {
  const root = sharedRoot();
  return ['native', ...sharedIncludeDirs.map((dir) => path.posix.join(root, dir))];
}

module.exports = { sharedSourceDirs, sharedSourceFiles, sharedIncludeDirs };

if (require.main === module) {
  const what = process.argv[2];
  if (what === 'sources') console.log(sources().join('\n'));
  else if (what === 'includes') console.log(includes().join('\n'));
  else {
    console.error('usage: native-sources.js sources|includes');
    process.exit(2);
  }
}
