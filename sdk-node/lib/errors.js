'use strict';
// The package's one error type. Every failure the SDK reports is a FastmdError whose `code`
// is 'FASTMD_<NAME>' and whose `errno` is the protocol number (PROTOCOL.md §6, the same
// table as fastmd/proto/error.hpp). A few failures happen only inside a Node process (the
// addon could not be loaded); they have a code and no protocol number.

/** PROTOCOL.md §6: name -> number. Never renumber, only add. */
const ERRNO = Object.freeze({
  OK: 0,
  FRAME_TOO_LARGE: 100,
  FRAME_EMPTY: 101,
  MALFORMED: 102,
  LIMIT_EXCEEDED: 103,
  NOT_A_MAP: 104,
  MISSING_FIELD: 105,
  WRONG_FIELD_TYPE: 106,
  VERSION_MISMATCH: 107,
  UNKNOWN_TYPE: 108,
  TRAILING_BYTES: 109,
  UNEXPECTED_MESSAGE: 110,
  FD_MISMATCH: 111,
  INVALID_FIELD: 112,
  PERMISSION_DENIED: 200,
  HANDSHAKE_TIMEOUT: 201,
  QUOTA_EXCEEDED: 202,
  DAEMON_SHUTTING_DOWN: 203,
  NO_WORKER: 204,
  PEER_GONE: 205,
  DAEMON_UNREACHABLE: 206,
  METHOD_NOT_FOUND: 300,
  HANDLER_FAILED: 301,
  TIMEOUT: 302,
  CANCELLED: 303,
  PAYLOAD_TOO_LARGE: 304,
  SHM_UNKNOWN_SEGMENT: 400,
  SHM_OUT_OF_BOUNDS: 401,
  SHM_STALE_GENERATION: 402,
  SHM_NO_SPACE: 403,
  SHM_BAD_FD: 404,
  SHM_BAD_BLOCK: 405,
  INTERNAL: 500,
  IO_ERROR: 501,
});

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
