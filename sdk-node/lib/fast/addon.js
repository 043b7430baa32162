'use strict';
// Loads the N-API addon (native/, built by node-gyp at install) once. A missing or broken
// build is reported as FASTMD_ADDON_UNAVAILABLE so `auto` can fall back to legacy; when the
// install could not build it, scripts/build-addon.js left the reason in NOT_BUILT_FILE and
// the error names it.

const fs = require('node:fs');
const path = require('node:path');
const { fastmdError } = require('../errors');

const packageDir = path.join(__dirname, '..', '..');
/** Where the install script records why it built no addon (relative to the package). */
const NOT_BUILT_FILE = path.join('build', 'addon-not-built.txt');

const candidates = [
  path.join(packageDir, 'build', 'Release', 'fastmd_ipc.node'),
  path.join(packageDir, 'build', 'Debug', 'fastmd_ipc.node'),
];

let loaded = null;
let failure = null;

/** The reason scripts/build-addon.js recorded for not building the addon, or null. */
function recordedReason() {
  try {
    return fs.readFileSync(path.join(packageDir, NOT_BUILT_FILE), 'utf8').trim();
  } catch (error) {
    if (error.code === 'ENOENT') return null; // the install built the addon, or never ran
    return `its reason could not be read from ${NOT_BUILT_FILE} (${error.message})`;
  }
}

/** Why no candidate loaded: the install's recorded reason, else why there is no build, else each load error. */
function describeFailure(loadErrors) {
  const recorded = recordedReason();
  if (recorded) {
    return 'the @fastmd/ipc native addon was not built when the package was installed: ' +
      `${recorded} (fix that, then run \`npm rebuild @fastmd/ipc\`)`;
  }
  if (!fs.existsSync(path.join(packageDir, 'build'))) {
    return 'the @fastmd/ipc native addon was never built: the package\'s install script did not run ' +
      '(npm --ignore-scripts, or an allowScripts policy that does not cover @fastmd/ipc); run `npm rebuild @fastmd/ipc`';
  }
  return `the @fastmd/ipc native addon could not be loaded (run \`npm rebuild @fastmd/ipc\`): ${loadErrors.join('; ')}`;
}

/** The addon's exports ({FastClient, resolveSocketPath, policy, errno, locateDaemon}); throws a FastmdError if absent. */
function loadAddon() {
  if (loaded) return loaded;
  if (!failure) {
    const loadErrors = [];
    for (const file of candidates) {
      try {
        loaded = require(file);
        return loaded;
      } catch (error) {
        loadErrors.push(`${file}: ${error.message.split('\n')[0]}`);
      }
    }
    failure = describeFailure(loadErrors);
  }
  throw fastmdError('ADDON_UNAVAILABLE', failure);
}

module.exports = { loadAddon, NOT_BUILT_FILE };
