'use strict';
// The fast transport's errors, as the package's FastmdError (lib/errors.js): codes
// 'FASTMD_<NAME>' and numbers from PROTOCOL.md §6, the same the addon reports.

const { FastmdError } = require('../errors');

/** A FastmdError for a protocol error name ('TIMEOUT') and a message a person can act on. */
function fastError(name, message) {
  return new FastmdError(`FASTMD_${name}`, message);
}

/** A FastmdError for a protocol error number (a worker's or the daemon's answer). */
function fromErrno(errno, message) {
  return new FastmdError(errno, message);
}

/** Turns what the addon threw (an Error with `code`, or a TypeError) into what callers get. */
function fromNative(error) {
  if (error instanceof FastmdError || typeof error?.code !== 'string' || !error.code.startsWith('FASTMD_')) {
    return error;
  }
  return new FastmdError(error.code, error.message);
}

module.exports = { fastError, fromErrno, fromNative };
