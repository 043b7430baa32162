'use strict';
// scripts/native-sources.js, the one rule by which the addon (and the packed tarball) takes its
// C++: whole directories of sdk-cpp/src/, no file list, and the platform directories CMake picks
// for the same FASTMD_PLATFORM. Checked on a made-up tree, so a new file needs no edit here.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, describe, it } = require('node:test');

const { packageDir } = require('./support/env');
const { findHeader, headerDirs, libraryIncludes, platformName, sharedIncludes, sharedSources } =
  require('../scripts/native-sources');
const { unsupportedReason } = require('../scripts/build-addon');

describe('the addon\'s C++ sources', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-native-sources-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files = {
    'sdk-cpp/src/ipc/client.cpp': '#include "client.hpp"\n',
    'sdk-cpp/src/ipc/brand_new.cpp': '// a file the rule has never seen\n',
    'sdk-cpp/src/ipc/worker.cpp': '#include <spdlog/spdlog.h>\n',
    'sdk-cpp/src/ipc/client.hpp': '#pragma once\n',
    'sdk-cpp/src/ipc/legacy/stdio_server.cpp': '\n',
    'sdk-cpp/src/shm/segment.cpp': '\n',
    'sdk-cpp/src/platform/mapping.cpp': '\n',
    'sdk-cpp/src/platform/linux/memory_object.cpp': '\n',
    'sdk-cpp/src/platform/posix/memory_object.cpp': '\n',
    'sdk-cpp/src/platform/posix/peer_credentials.cpp': '\n',
    'sdk-cpp/src/platform/posix/prefault.cpp': '\n',
    'sdk-cpp/src/platform/bsd/peer_credentials.cpp': '\n',
    'sdk-cpp/src/platform/macos/prefault.cpp': '\n',
  };
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  const root = path.relative(packageDir, dir);
  const common = ['sdk-cpp/src/ipc/brand_new.cpp', 'sdk-cpp/src/ipc/client.cpp',
    'sdk-cpp/src/platform/mapping.cpp', 'sdk-cpp/src/shm/segment.cpp'];

  it('are every .cpp directly in sdk-cpp/src/*/ but the spdlog users, and linux/ on Linux', () => {
    assert.deepEqual(sharedSources(root, 'linux', 'linux'),
      [...common, 'sdk-cpp/src/platform/linux/memory_object.cpp']);
  });

  it('take posix/ for FASTMD_PLATFORM=posix, with bsd/ and macos/ files replacing posix ones as CMake does', () => {
    const posix = ['sdk-cpp/src/platform/posix/memory_object.cpp',
      'sdk-cpp/src/platform/posix/peer_credentials.cpp', 'sdk-cpp/src/platform/posix/prefault.cpp'];
    assert.deepEqual(sharedSources(root, 'posix', 'linux'), [...common, ...posix]);
    assert.deepEqual(sharedSources(root, 'posix', 'freebsd'), [...common, posix[0],
      'sdk-cpp/src/platform/bsd/peer_credentials.cpp', posix[2]]);
    assert.deepEqual(sharedSources(root, 'posix', 'darwin'), [...common, posix[0],
      'sdk-cpp/src/platform/bsd/peer_credentials.cpp', 'sdk-cpp/src/platform/macos/prefault.cpp']);
  });

  it('are found through include directories that are the same directories', () => {
    assert.deepEqual(sharedIncludes(root, 'posix', 'darwin'), ['sdk-cpp/include', 'proto/include',
      'sdk-cpp/src/ipc', 'sdk-cpp/src/platform', 'sdk-cpp/src/shm', 'sdk-cpp/src/platform/posix',
      'sdk-cpp/src/platform/bsd', 'sdk-cpp/src/platform/macos']);
  });

  it('come from the platform FASTMD_PLATFORM names, else the OS\'s, and a wrong name is refused', () => {
    assert.equal(platformName({}, 'linux'), 'linux');
    assert.equal(platformName({}, 'darwin'), 'posix');
    assert.equal(platformName({ FASTMD_PLATFORM: 'posix' }, 'linux'), 'posix');
    assert.throws(() => platformName({ FASTMD_PLATFORM: 'bsd' }, 'linux'),
      { message: "FASTMD_PLATFORM is 'bsd'; it must be linux or posix" });
    assert.throws(() => platformName({ FASTMD_PLATFORM: 'linux' }, 'darwin'),
      { message: 'FASTMD_PLATFORM=linux builds only on Linux (this is darwin); use posix' });
  });
});

describe('the built addon', () => {
  const addon = path.join(packageDir, 'build', 'Release', 'fastmd_ipc.node');
  it('leaves no fastmd symbol undefined: the rule took no file whose callees it leaves out', {
    skip: !fs.existsSync(addon) && 'the addon is not built here',
  }, () => {
    // Node loads addons lazily, so a missing definition would fail only when called (or at
    // once under LD_BIND_NOW or a -z now build): a worker-program file the rule took did so.
    const undefinedSymbols = execFileSync('nm', ['-uC', addon], { encoding: 'utf8' })
      .split('\n').filter((line) => line.includes('fastmd::'));
    assert.deepEqual(undefinedSymbols, []);
  });
});

describe('where the addon is built, and the headers it needs', () => {
  it('is built on Linux, macOS and FreeBSD, and elsewhere skipped with the reason', () => {
    for (const system of ['linux', 'darwin', 'freebsd']) assert.equal(unsupportedReason(system), null);
    assert.equal(unsupportedReason('win32'),
      'the fast transport\'s addon builds on Linux, macOS and FreeBSD, and this is win32');
  });

  it('looks for library headers in Homebrew\'s prefix on macOS, then /usr/local and /usr', () => {
    assert.deepEqual(headerDirs('darwin'), ['/opt/homebrew/include', '/usr/local/include', '/usr/include']);
    assert.deepEqual(headerDirs('freebsd'), ['/usr/local/include', '/usr/include']);
    assert.deepEqual(headerDirs('linux'), ['/usr/local/include', '/usr/include']);
  });

  it('takes the compiler\'s user paths first, and adds no include directory the compiler is given', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmd-headers-'));
    try {
      fs.writeFileSync(path.join(dir, 'msgpack.hpp'), '#pragma once\n');
      assert.equal(findHeader('msgpack.hpp', { CPATH: dir }, 'linux'), dir);
      assert.deepEqual(libraryIncludes({ CPATH: dir }, 'linux'), []);
      assert.equal(findHeader('no-such-header-here.hpp', { CPATH: dir }, 'linux'), null);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never passes /usr/include, where Debian\'s libmsgpack-cxx-dev puts msgpack.hpp', () => {
    // This machine's headers (scripts/setup installs them): found, and no -I added.
    assert.equal(findHeader('msgpack.hpp', {}, 'linux'), '/usr/include');
    assert.deepEqual(libraryIncludes({}, 'linux'), []);
  });
});
