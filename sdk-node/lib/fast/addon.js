'use strict';
// Loads the N-API addon (native/, built by node-gyp at install) once. A missing or broken
// build is reported as FASTMD_ADDON_UNAVAILABLE so `auto` can fall back to legacy.

const path = require('node:path');
const { fastmdError } = require('../errors');

const candidates = [
  path.join(__dirname, '..', '..', 'build', 'Release', 'fastmd_ipc.node'),
  path.join(__dirname, '..', '..', 'build', 'Debug', 'fastmd_ipc.node'),
];

let loaded = null;
let failure = null;

/** The addon's exports ({FastSession, resolveSocketPath}); throws a FastmdError if absent. */
function loadAddon() {
  if (loaded) return loaded;
  if (!failure) {
    const reasons = [];
    for (const file of candidates) {
      try {
        loaded = require(file);
        return loaded;
      } catch (error) {
        reasons.push(`${file}: ${error.message.split('\n')[0]}`);
      }
    }
    failure = reasons.join('; ');
  }
  throw fastmdError('ADDON_UNAVAILABLE',
    `the @fastmd/ipc native addon could not be loaded (run \`npm rebuild @fastmd/ipc\`): ${failure}`);
}

module.exports = { loadAddon };
