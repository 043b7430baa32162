#!/usr/bin/env node
// prepack: copies the C++ the addon compiles from the repository (sdk-cpp, proto) into
// native/vendor-src/, so the packed tarball builds offline on its own. It copies by the rule
// of scripts/native-sources.js, whole directories: every directory of sdk-cpp/src/ with the
// .cpp files that rule takes and all its .hpp files (not its subdirectories, so ipc/legacy/
// stays out), every platform implementation directory (the installing machine picks its
// own), and the public headers.
// binding.gyp uses the repository's files when they are there and the copies otherwise.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { SOURCE_ROOT, sharedIncludeDirs, sourceDirs, cppFiles } = require('./native-sources');

const packageDir = path.resolve(__dirname, '..');
const repoDir = path.resolve(packageDir, '..');
const vendorDir = path.join(packageDir, 'native', 'vendor-src');

if (!fs.existsSync(path.join(repoDir, SOURCE_ROOT, 'platform'))) {
  console.error('vendor-native-sources: not inside the fastmd-ipc repository; keeping native/vendor-src as it is');
  process.exit(fs.existsSync(path.join(vendorDir, 'sdk-cpp')) ? 0 : 1);
}

function copyFile(relative) {
  const to = path.join(vendorDir, relative);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(path.join(repoDir, relative), to);
}

/** Copies the files directly in `dir` whose names end in one of `extensions`. */
function copyDir(dir, extensions) {
  for (const entry of fs.readdirSync(path.join(repoDir, dir), { withFileTypes: true })) {
    if (entry.isFile() && extensions.some((ext) => entry.name.endsWith(ext))) {
      copyFile(path.join(dir, entry.name));
    }
  }
}

/** Copies the files of `dir` and its subdirectories whose names end in one of `extensions`. */
function copyTree(dir, extensions) {
  copyDir(dir, extensions);
  for (const entry of fs.readdirSync(path.join(repoDir, dir), { withFileTypes: true })) {
    if (entry.isDirectory()) copyTree(path.join(dir, entry.name), extensions);
  }
}

const platformRoot = `${SOURCE_ROOT}/platform`;
const platformImplementations = fs.readdirSync(path.join(repoDir, platformRoot), { withFileTypes: true })
  .filter((entry) => entry.isDirectory()).map((entry) => `${platformRoot}/${entry.name}`);

fs.rmSync(vendorDir, { recursive: true, force: true });
for (const dir of [...sourceDirs('..'), ...platformImplementations]) {
  for (const file of cppFiles('..', dir)) copyFile(file);
  copyDir(dir, ['.hpp']);
}
for (const dir of sharedIncludeDirs) copyTree(dir, ['.hpp']);
console.error(`vendor-native-sources: copied the addon's C++ sources into ${path.relative(packageDir, vendorDir)}`);
