'use strict';
// The fast transport: requests go straight to workers over the direct channels fastmd-ipcd
// introduced, payloads above the inline threshold through shared memory. Everything but the
// promises is the C++ SDK's Client, driven by the addon from the event loop
// (native/fast_client.hpp): which worker takes a call, re-sends when one dies, deadlines,
// the no-worker wait, drains, reconnecting after a daemon restart, every policy number. This
// file keeps what must be JS: promises, AbortSignals, and which requests are pending. The
// addon keeps the event loop alive only while calls are in flight, so a process exits by
// itself when it has nothing left to do.

const { loadAddon } = require('../fast/addon');
const { FastmdError, fastmdError } = require('../errors');
const { fromNative } = require('../fast/errors');

/** Turns a payload into what the addon takes: a string or a Uint8Array view. */
function normalizePayload(payload) {
  if (typeof payload === 'string' || payload instanceof Uint8Array) return payload;
  if (payload === undefined || payload === null) return '';
  if (ArrayBuffer.isView(payload)) {
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  throw new TypeError('a payload must be a string, Buffer, Uint8Array or ArrayBuffer');
}

/** The addon's `asString`: true/false for `as` 'string'/'buffer', undefined for the payload's kind. */
function asString(as) {
  return as === undefined ? undefined : as === 'string';
}

class FastTransport {
  constructor(addon, options) {
    this.name = 'fast';
    this._addon = addon;
    this._options = options;
    this.socketPath = addon.resolveSocketPath(options.socket || '');
    this._native = null;
    this._requests = new Map(); // token -> request: one per call() or callMany()
    this._nextToken = 1;
    this._closed = false;
  }

  /** The workers calls can go to now, with their load: [{name, pid, segment, outstanding}]. */
  get workers() {
    return this._native ? this._native.workers() : [];
  }

  /**
   * How payloads have travelled, by path:
   * {sent: {inline, segment, oneoff}, received: {inline, segment, oneoff, inPlace}, heldBytes}.
   * received.inPlace counts segment results that became Buffers without a copy; heldBytes is
   * what such Buffers still alive hold of the workers' segments (docs/sdk-node.md).
   */
  get stats() {
    return this._native.stats();
  }

  /** Connects and completes ipc.hello within the handshake timeout; resolves with this. */
  async open() {
    const { name, wants, inlineThreshold, spinUs } = this._options;
    try {
      this._native = await this._addon.FastClient.connect({
        socket: this.socketPath, name, wants, inlineThreshold, spinUs,
        handshakeTimeoutMs: this._options.handshakeTimeoutMs ?? this._options.timeoutMs,
      }, (codes, values) => this._onAnswers(codes, values));
    } catch (error) {
      throw fromNative(error);
    }
    return this;
  }

  /**
   * Calls `method` with `payload` (string or bytes) on the least busy worker. Resolves with
   * a string or Buffer (`as`, else the payload's kind); rejects with a FastmdError, or with
   * `signal.reason` when aborted.
   */
  call(method, payload, options = {}) {
    return this._submit(method, [payload], options, false);
  }

  /**
   * Calls `method` once per payload, all in flight together, written to each worker's channel
   * as one batch. Resolves with the results in payload order; rejects with the first failure
   * (the other calls are then cancelled).
   */
  callMany(method, payloads, options = {}) {
    return this._submit(method, Array.from(payloads), options, true);
  }

  // The calls of one call() or callMany(): a request, settled as a whole, with one promise
  // and one abort listener however many calls it holds. The core's deadline applies to each.
  _submit(method, payloads, { signal, timeoutMs = this._options.timeoutMs, as, idempotent = this._options.idempotent }, many) {
    if (this._closed) return Promise.reject(fastmdError('CANCELLED', 'the client is closed'));
    let bodies;
    try {
      bodies = payloads.map(normalizePayload);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (bodies.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const token = this._nextToken++;
      const request = { resolve, reject, results: many ? new Array(bodies.length) : null, pending: bodies.length,
        signal, onAbort: null };
      this._requests.set(token, request);
      try {
        if (many) this._native.callMany(token, method, bodies, asString(as), timeoutMs, idempotent);
        else this._native.call(token, method, bodies[0], asString(as), timeoutMs, idempotent);
      } catch (error) {
        this._requests.delete(token);
        reject(fromNative(error));
        return;
      }
      if (signal) {
        request.onAbort = () => this._fail(token, signal.reason);
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
    });
  }

  // Outcomes from the addon: `codes` [token, index, errno, ...], `values` the results or the
  // errors' messages.
  _onAnswers(codes, values) {
    for (let i = 0; i < values.length; i++) {
      const token = codes[3 * i];
      const request = this._requests.get(token);
      if (!request) continue; // failed already (another call of its batch, an abort)
      const errno = codes[3 * i + 2];
      if (errno !== 0) {
        this._fail(token, new FastmdError(errno, values[i]));
      } else if (request.results === null) {
        this._finish(token, request, values[i]);
      } else {
        request.results[codes[3 * i + 1]] = values[i];
        if (--request.pending === 0) this._finish(token, request, request.results);
      }
    }
  }

  _finish(token, request, value) {
    this._requests.delete(token);
    if (request.onAbort) request.signal.removeEventListener('abort', request.onAbort);
    request.resolve(value);
  }

  // Rejects a request; its calls still pending are cancelled (their workers are told).
  _fail(token, error) {
    const request = this._requests.get(token);
    if (!request) return;
    this._requests.delete(token);
    this._native?.cancel(token);
    if (request.onAbort) request.signal.removeEventListener('abort', request.onAbort);
    request.reject(error);
  }

  /** Fails what is still pending, closes every channel; the process may then exit. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    for (const token of [...this._requests.keys()]) {
      this._fail(token, fastmdError('CANCELLED', 'the client was closed while the call was pending'));
    }
    this._native?.close();
  }
}

/**
 * Opens the fast transport: loads the addon, connects to fastmd-ipcd (option `socket`, env
 * FASTMD_IPC_SOCKET, else the default path) and completes the handshake. Throws a
 * FastmdError when the fast path is unavailable: FASTMD_ADDON_UNAVAILABLE,
 * FASTMD_DAEMON_UNREACHABLE, FASTMD_HANDSHAKE_TIMEOUT, or the daemon's refusal.
 */
async function openFastTransport(options = {}) {
  const transport = new FastTransport(loadAddon(), options);
  return transport.open();
}

module.exports = { openFastTransport };
