#!/usr/bin/env node
// prepack: copies the C++ the addon compiles from the repository (sdk-cpp, proto) into
// native/vendor-src/, so the packed tarball builds offline on its own. binding.gyp uses the
// repository's files when they are there and the copies otherwise (scripts/native-sources.js).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { sharedSourceDirs, sharedSourceFiles, sharedIncludeDirs } = require('./native-sources');

const packageDir = path.resolve(__dirname, '..');
const repoDir = path.resolve(packageDir, '..');
const vendorDir = path.join(packageDir, 'native', 'vendor-src');

if (!fs.existsSync(path.join(repoDir, 'sdk-cpp', 'src', 'platform'))) {
  console.error('vendor-native-sources: not inside the fastmd-ipc repository; keeping native/vendor-src as it is');
  process.exit(fs.existsSync(path.join(vendorDir, 'sdk-cpp')) ? 0 : 1);
}

function copyFile(relative) {
  const to = path.join(vendorDir, relative);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(path.join(repoDir, relative), to);
}

/** Copies the files of `dir` (recursively) whose names end in one of `extensions`. */
function copyTree(dir, extensions) {
  for (const entry of fs.readdirSync(path.join(repoDir, dir), { withFileTypes: true })) {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) copyTree(relative, extensions);
    else if (extensions.some((ext) => entry.name.endsWith(ext))) copyFile(relative);
  }
}

fs.rmSync(vendorDir, { recursive: true, force: true });
for (const dir of sharedSourceDirs) copyTree(dir, ['.cpp', '.hpp']);
for (const file of sharedSourceFiles) copyFile(file);
for (const dir of sharedIncludeDirs) copyTree(dir, ['.hpp']);
console.error(`vendor-native-sources: copied the addon's C++ sources into ${path.relative(packageDir, vendorDir)}`);
