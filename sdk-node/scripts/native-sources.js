#!/usr/bin/env node
// Prints, for binding.gyp, what the addon compiles, one item per line: `sources` (paths
// relative to sdk-node/), `includes` (include directories, with MessagePack's where the
// compiler may not look), `cflags` and `libraries` (the platform layer's extra flags), or
// `platform` (the FASTMD_PLATFORM it builds).
//
// The rule, in one sentence: the addon compiles every .cpp file directly inside each
// directory of sdk-cpp/src/ (not their subdirectories, so ipc/legacy/ stays out) except the
// files that include spdlog (the worker program's logging, which the addon does not link),
// plus the platform implementation directories that CMake picks for the same FASTMD_PLATFORM
// (sdk-cpp/CMakeLists.txt), and every one of those directories is also an include directory.
// A new .cpp file in sdk-cpp/src/ipc/ is therefore in the addon with no edit here.
//
// The platform: FASTMD_PLATFORM from the environment (`linux` or `posix`, as the CMake
// option), else `linux` on Linux and `posix` elsewhere. For posix, a file of the same name in
// platform/bsd/ (macOS and FreeBSD) and then platform/macos/ (macOS) replaces the posix/ one.
//
// The shared C++ comes from the repository when this package sits in it, else from
// native/vendor-src (scripts/vendor-native-sources.js copies it there by this same rule).
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.resolve(__dirname, '..');

/** The shared C++ directories, relative to the shared root (the vendoring step copies these). */
const SOURCE_ROOT = 'sdk-cpp/src';
const PLATFORM_DIR = `${SOURCE_ROOT}/platform`;
const sharedIncludeDirs = ['sdk-cpp/include', 'proto/include'];
/** A file that includes spdlog is the worker program's (see the rule above). */
const WORKER_ONLY = /^\s*#\s*include\s*[<"]spdlog\//m;

/** The directory holding sdk-cpp/ and proto/: the repository, or the vendored copy. */
function sharedRoot() {
  const inRepo = path.join(packageDir, '..');
  if (fs.existsSync(path.join(inRepo, PLATFORM_DIR))) return '..';
  const vendored = path.join('native', 'vendor-src');
  if (fs.existsSync(path.join(packageDir, vendored, 'sdk-cpp'))) return vendored;
  throw new Error('@fastmd/ipc: the C++ sources of sdk-cpp are missing (neither ../sdk-cpp ' +
                  'nor native/vendor-src exists); reinstall the package');
}

/** `linux` or `posix`: FASTMD_PLATFORM if set (checked as CMake checks it), else by the OS. */
function platformName(env = process.env, os = process.platform) {
  const chosen = env.FASTMD_PLATFORM || (os === 'linux' ? 'linux' : 'posix');
  if (chosen !== 'linux' && chosen !== 'posix') {
    throw new Error(`FASTMD_PLATFORM is '${chosen}'; it must be linux or posix`);
  }
  if (chosen === 'linux' && os !== 'linux') {
    throw new Error(`FASTMD_PLATFORM=linux builds only on Linux (this is ${os}); use posix`);
  }
  return chosen;
}

/** The platform implementation directories, in override order (later files replace earlier). */
function platformDirs(platform = platformName(), os = process.platform) {
  if (platform === 'linux') return [`${PLATFORM_DIR}/linux`];
  const dirs = [`${PLATFORM_DIR}/posix`];
  if (os === 'darwin' || os === 'freebsd') dirs.push(`${PLATFORM_DIR}/bsd`);
  if (os === 'darwin') dirs.push(`${PLATFORM_DIR}/macos`);
  return dirs;
}

/** The directories of sdk-cpp/src/ (under `root`, relative to sdk-node/ or the repository). */
function sourceDirs(root) {
  return fs.readdirSync(path.join(packageDir, root, SOURCE_ROOT), { withFileTypes: true })
    .filter((entry) => entry.isDirectory()).map((entry) => `${SOURCE_ROOT}/${entry.name}`).sort();
}

/** The .cpp files directly in `dir` (relative to `root`) that the rule takes, sorted. */
function cppFiles(root, dir) {
  const absolute = path.join(packageDir, root, dir);
  if (!fs.existsSync(absolute)) return [];
  return fs.readdirSync(absolute).filter((name) => name.endsWith('.cpp')).sort()
    .filter((name) => !WORKER_ONLY.test(fs.readFileSync(path.join(absolute, name), 'utf8')))
    .map((name) => `${dir}/${name}`);
}

/** Every shared .cpp the addon compiles, relative to `root` (the shared root). */
function sharedSources(root, platform = platformName(), os = process.platform) {
  const common = sourceDirs(root).flatMap((dir) => cppFiles(root, dir));
  const byName = new Map();
  for (const dir of platformDirs(platform, os)) {
    for (const file of cppFiles(root, dir)) byName.set(path.posix.basename(file), file);
  }
  return [...common, ...byName.values()];
}

/** The include directories, relative to `root`: the public headers and every compiled dir. */
function sharedIncludes(root, platform = platformName(), os = process.platform) {
  return [...sharedIncludeDirs, ...sourceDirs(root), ...platformDirs(platform, os)];
}

/**
 * The platform layer's extra compiler flags and libraries: posix on Linux takes getpeereid(3)
 * from libbsd's overlay, as sdk-cpp/CMakeLists.txt links it.
 */
function platformFlags(platform = platformName(), os = process.platform) {
  if (platform !== 'posix' || os !== 'linux') return { cflags: [], libraries: [] };
  const ask = (what) => {
    try {
      return execFileSync('pkg-config', [what, 'libbsd-overlay'], { encoding: 'utf8' })
        .trim().split(/\s+/).filter(Boolean);
    } catch (error) {
      throw new Error('FASTMD_PLATFORM=posix on Linux needs libbsd (pkg-config libbsd-overlay ' +
                      `failed: ${error.message.split('\n')[0]}); install Debian's libbsd-dev`);
    }
  };
  return { cflags: ask('--cflags'), libraries: ask('--libs') };
}

function sources() {
  const root = sharedRoot();
  const native = fs.readdirSync(path.join(packageDir, 'native')).filter((name) => name.endsWith('.cc'))
    .sort().map((name) => `native/${name}`);
  return [...native, ...sharedSources(root).map((file) => path.posix.join(root, file))];
}

/** Where a library's headers are looked for beside the compiler's user paths, by OS: Homebrew's
 * prefix on Apple silicon, /usr/local (Homebrew on Intel, FreeBSD ports), then the system. */
function headerDirs(os = process.platform) {
  return [...(os === 'darwin' ? ['/opt/homebrew/include'] : []), '/usr/local/include', '/usr/include'];
}

/**
 * The first directory holding `header` among the compiler's user paths (CPLUS_INCLUDE_PATH,
 * CPATH) and headerDirs(), or null: build-addon.js checks it before node-gyp runs, so a
 * missing library is named with its package instead of surfacing as a compiler error.
 */
function findHeader(header, env = process.env, os = process.platform) {
  const userDirs = [env.CPLUS_INCLUDE_PATH, env.CPATH]
    .flatMap((list) => (list ? list.split(path.delimiter) : [])).filter(Boolean);
  return [...userDirs, ...headerDirs(os)].find((dir) => fs.existsSync(path.join(dir, header))) ?? null;
}

/**
 * The include directory MessagePack's headers need that the compiler may not search by itself
 * (/opt/homebrew/include, or /usr/local/include for FreeBSD's base clang), or none: not one the
 * environment already gives the compiler, and never /usr/include, whose -I would reorder the
 * system headers.
 */
function libraryIncludes(env = process.env, os = process.platform) {
  const found = findHeader('msgpack.hpp', env, os);
  const given = [env.CPLUS_INCLUDE_PATH, env.CPATH].flatMap((list) => (list ? list.split(path.delimiter) : []));
  return found && found !== '/usr/include' && !given.includes(found) ? [found] : [];
}

function includes() {
  const root = sharedRoot();
  return ['native', ...sharedIncludes(root).map((dir) => path.posix.join(root, dir)), ...libraryIncludes()];
}

module.exports = {
  SOURCE_ROOT, sharedIncludeDirs, platformName, platformDirs, sourceDirs, cppFiles, sharedSources,
  sharedIncludes, headerDirs, findHeader, libraryIncludes,
};

if (require.main === module) {
  const what = process.argv[2];
  const print = {
    sources: () => sources(),
    includes: () => includes(),
    cflags: () => platformFlags().cflags,
    libraries: () => platformFlags().libraries,
    platform: () => [platformName()],
  }[what];
  if (!print) {
    console.error('usage: native-sources.js sources|includes|cflags|libraries|platform');
    process.exit(2);
  }
  console.log(print().join('\n'));
}
