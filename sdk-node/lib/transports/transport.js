'use strict';
// The interface every transport implements, written down once so lib/index.js (the client),
// lib/transports/legacy.js (NDJSON over a child's stdio) and lib/transports/fast.js (direct
// channels and shared memory through fastmd-ipcd) agree on it. The client picks a transport
// and forwards its calls; it never reaches into one.

const { fastmdError } = require('../errors');

/**
 * Options a transport factory takes; it reads the ones it understands and ignores the rest.
 * @typedef {object} TransportOptions
 * @property {string} [socket]          fastmd-ipcd's socket (fast; default: FASTMD_IPC_SOCKET, then the system path)
 * @property {string|string[]} [workerCommand] the worker to spawn with --stdio (legacy)
 * @property {number} [workers]         how many worker processes to spawn (legacy; default 1)
 * @property {number} [timeoutMs]       default deadline of each call; also bounds the fast handshake
 * @property {number} [handshakeTimeoutMs] how long the fast handshake may take (default: timeoutMs, else 2000)
 * @property {number} [spinUs]          fast: poll shared memory up to this many µs for answers before the loop sleeps (unset: adaptive; 0: never)
 */

/**
 * Per-call options.
 * @typedef {object} CallOptions
 * @property {AbortSignal} [signal]   aborting rejects the call with `signal.reason` (and cancels it at the worker)
 * @property {number} [timeoutMs]     rejects with FASTMD_TIMEOUT after this many milliseconds
 * @property {'string'|'buffer'} [as] the result's kind; default: the payload's kind
 */

/**
 * An open transport. Payloads are strings (sent as UTF-8) or Uint8Arrays (Buffers included);
 * results are strings or Buffers (`as`, else the payload's kind). Every failure is a
 * FastmdError (lib/errors.js) except an abort, which rejects with `signal.reason`.
 * @typedef {object} Transport
 * @property {'fast'|'legacy'} name
 * @property {(method: string, payload: string|Uint8Array, options?: CallOptions) => Promise<string|Buffer>} call
 * @property {(method: string, payloads: Iterable<string|Uint8Array>, options?: CallOptions) => Promise<Array<string|Buffer>>} callMany
 *           all calls in flight together; resolves in payload order, rejects on the first failure
 * @property {() => Promise<void>} close
 *           fails pending calls with FASTMD_CANCELLED, ends channels and children; afterwards
 *           nothing of the transport keeps the event loop alive
 */

/**
 * How each transport module is opened: an async factory that resolves once the transport can
 * take calls, or rejects with a FastmdError saying why it cannot (for the fast transport:
 * FASTMD_ADDON_UNAVAILABLE, FASTMD_DAEMON_UNREACHABLE, FASTMD_HANDSHAKE_TIMEOUT, or the
 * daemon's refusal). `require('./fast').openFastTransport` and
 * `require('./legacy').openLegacyTransport` have this type.
 * @typedef {(options: TransportOptions) => Promise<Transport>} OpenTransport
 */

/** The transport names `connect({transport})` and FASTMD_IPC accept. */
const TRANSPORT_CHOICES = Object.freeze(['auto', 'fast', 'legacy']);

/**
 * Arms a call's deadline and abort signal, the same way in every transport: either one takes
 * the call back from wherever it waits (`withdraw`) and settles it (`settle`) with
 * FASTMD_TIMEOUT or `signal.reason`. Sets `call.timer` and `call.onAbort`, which the transport
 * clears when the call settles. (The fast transport arms a whole batch as one call.)
 * @param {{method: string, timer: any, onAbort: any}} call
 * @param {CallOptions} options
 * @param {(call: object) => void} withdraw
 * @param {(call: object, error: any) => void} settle
 */
function armCallLimits(call, { signal, timeoutMs }, withdraw, settle) {
  if (timeoutMs !== undefined && timeoutMs !== null) {
    call.timer = setTimeout(() => {
      withdraw(call);
      settle(call, fastmdError('TIMEOUT', `${call.method} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  }
  if (signal) {
    call.onAbort = () => {
      withdraw(call);
      settle(call, signal.reason);
    };
    signal.addEventListener('abort', call.onAbort, { once: true });
  }
}

module.exports = { TRANSPORT_CHOICES, armCallLimits };
