'use strict';
// Where the SDK finds fastmd's executables (fastmd-worker-md, fastmd-ipcd): the directory in
// env FASTMD_BIN_DIR, then the repository's build/bin (when the package runs from a checkout),
// then PATH.

const fs = require('node:fs');
const path = require('node:path');

const { fastmdError } = require('./errors');

function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The places `name` is looked for, in order. */
function candidatesFor(name) {
  const dirs = [];
  if (process.env.FASTMD_BIN_DIR) dirs.push(process.env.FASTMD_BIN_DIR);
  dirs.push(path.resolve(__dirname, '..', '..', 'build', 'bin'));
  dirs.push(...(process.env.PATH || '').split(path.delimiter).filter(Boolean));
  return dirs.map((dir) => path.join(dir, name));
}

/**
 * The path of executable `name`; throws a FastmdError with `code` (a FASTMD_ code) saying
 * where it looked when it is nowhere.
 */
function findBinary(name, code = 'WORKER_UNAVAILABLE') {
  const candidates = candidatesFor(name);
  const found = candidates.find(isExecutableFile);
  if (found) return found;
  throw fastmdError(code, `${name} was not found (looked in ${path.dirname(candidates[0])}` +
    `${process.env.FASTMD_BIN_DIR ? `, ${path.dirname(candidates[1])}` : ''} and PATH): ` +
    'build it (scripts/build) or set FASTMD_BIN_DIR');
}

module.exports = { findBinary };
