'use strict';
// @fastmd/ipc: call native transformer workers from Node. connect() picks a transport —
// 'fast' (direct channels and shared memory through fastmd-ipcd, lib/transports/fast.js)
// or 'legacy' (NDJSON over worker children's stdio, lib/transports/legacy.js) — and the
// Client forwards calls to it; both implement lib/transports/transport.js.
//
//   const { connect } = require('@fastmd/ipc');
//   const client = await connect();
//   const html = await client.transform('# Hello\n');
//   await client.close();

const { FastmdError, ERRNO } = require('./errors');
const { TRANSPORT_CHOICES } = require('./transports/transport');

// Node 18 has no Symbol.asyncDispose yet; Node 20 defines it as this registered symbol.
const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

// The fallback warning is for a person reading the log: once per process is enough.
let fallbackWarned = false;

/** What connect() resolves with: calls go to the transport it chose. */
class Client {
  constructor(transport, options) {
    this._transport = transport;
    this._timeoutMs = options.timeoutMs;
    this._closing = null;
  }

  /** 'fast' or 'legacy': the path calls take. */
  get transport() {
    return this._transport.name;
  }

  /** The workers calls can go to now, with their load: [{pid, outstanding, ...}]. */
  get workers() {
    return this._transport.workers;
  }

  /**
   * Calls `method` of a worker with `payload` (string or Buffer/Uint8Array). Resolves with
   * the result as a string or Buffer (`options.as`, else the payload's kind); rejects with
   * a FastmdError (`code` 'FASTMD_…'), or with `options.signal.reason` when aborted.
   */
  call(method, payload, options = {}) {
    if (typeof method !== 'string' || method.length === 0) {
      return Promise.reject(new TypeError('method must be a non-empty string'));
    }
    return this._transport.call(method, payload, this._callOptions(options));
  }

  /** The Markdown job: Markdown (string or bytes) in, HTML out (a string unless `as`). */
  transform(markdown, options = {}) {
    return this.call('transform', markdown, options);
  }

  /** `method` once per payload, all in flight together; resolves in the payloads' order. */
  callMany(method, payloads, options = {}) {
    if (typeof method !== 'string' || method.length === 0) {
      return Promise.reject(new TypeError('method must be a non-empty string'));
    }
    return this._transport.callMany(method, payloads, this._callOptions(options));
  }

  _callOptions(options) {
    if (options.timeoutMs !== undefined || this._timeoutMs === undefined) return options;
    return { ...options, timeoutMs: this._timeoutMs };
  }

  /** Fails pending calls with FASTMD_CANCELLED and releases everything; idempotent. */
  close() {
    this._closing ??= this._transport.close();
    return this._closing;
  }

  [asyncDispose]() {
    return this.close();
  }
}

function chooseTransport(option) {
  const choice = option ?? (process.env.FASTMD_IPC || 'auto');
  if (!TRANSPORT_CHOICES.includes(choice)) {
    throw new TypeError(`transport must be one of ${TRANSPORT_CHOICES.join(', ')} (got '${choice}'` +
      `${option === undefined ? ' from FASTMD_IPC' : ''})`);
  }
  return choice;
}

/**
 * Connects to workers. `transport` (else env FASTMD_IPC, else 'auto'): 'fast' uses
 * fastmd-ipcd and fails if it cannot; 'legacy' spawns `workers` worker children; 'auto'
 * tries fast and falls back to legacy with one process warning (code FASTMD_FALLBACK).
 */
async function connect(options = {}) {
  const choice = chooseTransport(options.transport);
  const { spinUs } = options;
  if (spinUs !== undefined && !(Number.isFinite(spinUs) && spinUs >= 0)) {
    throw new TypeError(`spinUs must be a number of microseconds, 0 or more (got ${spinUs})`);
  }
  if (choice === 'legacy') return new Client(await openLegacy(options), options);
  let fast;
  try {
    fast = await require('./transports/fast').openFastTransport(options);
  } catch (error) {
    if (choice === 'fast') throw error;
    const legacy = await openLegacy(options);
    if (!fallbackWarned) {
      fallbackWarned = true;
      process.emitWarning(`@fastmd/ipc: the fast transport is unavailable (${error.code ?? error.name}: ${error.message}); ` +
        'using the legacy NDJSON transport. Set FASTMD_IPC=legacy to choose it without this warning.',
      { code: 'FASTMD_FALLBACK' });
    }
    return new Client(legacy, options);
  }
  return new Client(fast, options);
}

function openLegacy(options) {
  return require('./transports/legacy').openLegacyTransport(options);
}

module.exports = { connect, Client, FastmdError, ERRNO };
