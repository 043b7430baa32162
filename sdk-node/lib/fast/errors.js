'use strict';
// What the addon throws, as the package's FastmdError (lib/errors.js): the addon's errors
// carry `code` 'FASTMD_<NAME>' and `errno` from PROTOCOL.md §6.

const { FastmdError } = require('../errors');

/** Turns an addon error into a FastmdError; anything else (a TypeError) is returned as is. */
function fromNative(error) {
  if (error instanceof FastmdError || typeof error?.code !== 'string' || !error.code.startsWith('FASTMD_')) {
    return error;
  }
  return new FastmdError(error.code, error.message);
}

module.exports = { fromNative };
