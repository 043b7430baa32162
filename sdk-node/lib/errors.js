'use strict';
// The package's one error type. Every failure the SDK reports is a FastmdError whose `code`
// is 'FASTMD_<NAME>' and whose `errno` is the protocol number (PROTOCOL.md §6, the same
// table as fastmd/proto/error.hpp). A few failures happen only inside a Node process (the
// addon could not be loaded); they have a code and no protocol number.

/** PROTOCOL.md §6: name -> number, generated from fastmd/proto/error.hpp (lib/errno.json, scripts/generate-core-tables.js). */
const ERRNO = Object.freeze(require('./errno.json'));

/** Failures of the Node SDK itself, outside the wire protocol: code -> meaning. */
const LOCAL_CODES = Object.freeze({
  ADDON_UNAVAILABLE: 'the native addon behind the fast transport could not be loaded',
  WORKER_UNAVAILABLE: 'the worker command could not be started',
});

const NAME_OF = new Map(Object.entries(ERRNO).map(([name, errno]) => [errno, name]));

/**
 * An error with a stable `code` ('FASTMD_TIMEOUT') and, for protocol errors, `errno` (302).
 * Construct it from a code string or a protocol number:
 *   new FastmdError('FASTMD_TIMEOUT', 'transform did not answer within 50 ms')
 *   new FastmdError(300, "method 'x' is not served")
 * An unknown number becomes FASTMD_INTERNAL with the number kept in `errno`.
 */
class FastmdError extends Error {
  constructor(codeOrErrno, message, options) {
    super(message, options);
    this.name = 'FastmdError';
    if (typeof codeOrErrno === 'number') {
      this.code = `FASTMD_${NAME_OF.get(codeOrErrno) ?? 'INTERNAL'}`;
      this.errno = codeOrErrno;
    } else {
      const name = String(codeOrErrno).replace(/^FASTMD_/, '');
      if (!(name in ERRNO) && !(name in LOCAL_CODES)) {
        throw new TypeError(`FastmdError: unknown code ${codeOrErrno}`);
      }
      this.code = `FASTMD_${name}`;
      if (name in ERRNO) this.errno = ERRNO[name];
    }
  }
}

/** A FastmdError for a protocol or local error name ('TIMEOUT') and a message. */
function fastmdError(name, message, options) {
  return new FastmdError(`FASTMD_${name}`, message, options);
}

module.exports = { FastmdError, fastmdError, ERRNO, LOCAL_CODES };
