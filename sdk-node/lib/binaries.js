'use strict';
// Where the SDK finds the legacy transport's worker (fastmd-worker-md): the directory in env
// FASTMD_BIN_DIR, then the repository's build/bin (only when the package runs from a
// checkout), then PATH, then /usr/local/sbin and /usr/sbin. A miss lists every place looked in
// and what to install. The daemon (fastmd-ipcd) is found in the same order by the addon's
// locateDaemon (sdk-cpp/src/ipc/executable_search.hpp), to which callerBinDirs() gives the
// checkout's build/bin; the legacy worker is found here because legacy must work without the
// addon (macOS, Windows, an install without a compiler).

const fs = require('node:fs');
const path = require('node:path');

const { fastmdError } = require('./errors');

/** The repository around this package when it runs from a checkout, else null. */
const checkoutDir = (() => {
  const dir = path.resolve(__dirname, '..', '..');
  const isCheckout = fs.existsSync(path.join(dir, 'CMakeLists.txt')) && fs.existsSync(path.join(dir, 'sdk-cpp'));
  return isCheckout ? dir : null;
})();

// Windows: executables end in .exe, and there is no sbin (fastmd-ipc runs the legacy path
// only there; docs/platforms.md).
const onWindows = () => process.platform === 'win32';
const systemSbinDirs = () => (onWindows() ? [] : ['/usr/local/sbin', '/usr/sbin']);

function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The places executables are looked for, in order: [{dir, why}], `why` naming the source. */
function searchPlaces() {
  const places = [];
  const add = (dir, why) => {
    if (!places.some((place) => place.dir === dir)) places.push({ dir, why });
  };
  if (process.env.FASTMD_BIN_DIR) add(process.env.FASTMD_BIN_DIR, 'FASTMD_BIN_DIR');
  if (checkoutDir) add(path.join(checkoutDir, 'build', 'bin'), 'this checkout\'s build');
  for (const dir of (process.env.PATH || '').split(path.delimiter).filter(Boolean)) add(dir, 'PATH');
  for (const dir of systemSbinDirs()) add(dir, 'sbin');
  return places;
}

/** "FASTMD_BIN_DIR: not set; PATH: /usr/bin, /bin; sbin: /usr/sbin": every place, by source. */
function describePlaces(places) {
  const groups = process.env.FASTMD_BIN_DIR ? [] : [{ why: 'FASTMD_BIN_DIR', dirs: ['not set'] }];
  for (const { dir, why } of places) {
    const last = groups[groups.length - 1];
    if (last?.why === why) last.dirs.push(dir);
    else groups.push({ why, dirs: [dir] });
  }
  return groups.map(({ why, dirs }) => `${why}: ${dirs.join(', ')}`).join('; ');
}

/**
 * The path of executable `name`; throws a FastmdError with `code` (a FASTMD_ code) listing
 * every place it looked and what to install when it is nowhere.
 */
function findBinary(name, code = 'WORKER_UNAVAILABLE') {
  const places = searchPlaces();
  const fileName = onWindows() ? `${name}.exe` : name;
  for (const { dir } of places) {
    const file = path.join(dir, fileName);
    if (isExecutableFile(file)) return file;
  }
  let remedy;
  if (checkoutDir) {
    remedy = `build it in this checkout (scripts/build), install the Debian package fastmd-ipc, or set FASTMD_BIN_DIR to the directory holding ${fileName}`;
  } else if (onWindows()) {
    remedy = 'build fastmd-ipc for Windows (CMake, FASTMD_PLATFORM=windows: the legacy path) and put the directory ' +
      `holding ${fileName} on PATH or in FASTMD_BIN_DIR`;
  } else {
    remedy = 'install the Debian package fastmd-ipc (apt install fastmd-ipc), or build fastmd-ipc from source ' +
      'and put the directory holding it on PATH or in FASTMD_BIN_DIR';
  }
  throw fastmdError(code, `${fileName} was not found. Looked in ${describePlaces(places)}. To get it: ${remedy}`);
}

/** The package's own executables' directories, for the addon's search: a checkout's build/bin. */
function callerBinDirs() {
  return checkoutDir ? [path.join(checkoutDir, 'build', 'bin')] : [];
}

module.exports = { findBinary, callerBinDirs };
