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
const { callerBinDirs } = require('./binaries');
const { fromNative } = require('./fast/errors');
const { TRANSPORT_CHOICES } = require('./transports/transport');

// Node 18 has no Symbol.asyncDispose yet; Node 20 defines it as this registered symbol.
const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

// The fallback warning is for a person reading the log: once per process is enough.
let fallbackWarned = false;

/** What connect() resolves with: calls go to the transport it chose. */
class Client {
  constructor(transport, options, transportInfo) {
    this._transport = transport;
    this._timeoutMs = options.timeoutMs;
    this._closing = null;
    this._transportInfo = Object.freeze(transportInfo);
  }

  /** 'fast' or 'legacy': the path calls take. */
  get transport() {
    return this._transport.name;
  }

  /** How connect() chose the transport: the object its `onTransport` hook received. */
  get transportInfo() {
    return this._transportInfo;
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
 * fastmd-ipcd (the configured one, else the system daemon, else the per-user daemon, started
 * on first use) and fails if it cannot; 'legacy' spawns `workers` worker children; 'auto'
 * does as 'fast' for the share of processes FASTMD_IPC_ROLLOUT gives (all when unset) and
 * legacy for the others, and falls back to legacy with one process warning (code
 * FASTMD_FALLBACK) when the fast path cannot be had. `onTransport(info)` is called with the
 * choice before connect() resolves (see TransportInfo in index.d.ts).
 */
async function connect(options = {}) {
  const choice = chooseTransport(options.transport);
  const { spinUs, onTransport } = options;
  if (spinUs !== undefined && !(Number.isFinite(spinUs) && spinUs >= 0)) {
    throw new TypeError(`spinUs must be a number of microseconds, 0 or more (got ${spinUs})`);
  }
  if (onTransport !== undefined && typeof onTransport !== 'function') {
    throw new TypeError('onTransport must be a function');
  }
  const info = { transport: 'legacy', requested: choice, source: null, socketPath: null, reason: null, platform: null };
  if (choice === 'legacy') {
    info.reason = options.transport === undefined ? 'FASTMD_IPC=legacy' : "transport: 'legacy'";
    return reported(new Client(await openLegacy(options), options, info), onTransport);
  }
  let fast;
  try {
    const located = await locateDaemon(options, choice === 'auto');
    if (located.transport === 'legacy') {
      info.reason = located.reason;
      return reported(new Client(await openLegacy(options), options, info), onTransport);
    }
    info.source = located.source;
    info.socketPath = located.socketPath;
    fast = await require('./transports/fast').openFastTransport({ ...options, socket: located.socketPath });
  } catch (error) {
    // A bad FASTMD_IPC_ROLLOUT is a configuration error to fix, not a reason to fall back.
    if (choice === 'fast' || error.code === 'FASTMD_INVALID_FIELD') throw error;
    const legacy = await openLegacy(options);
    info.source = null;
    info.socketPath = null;
    info.reason = `the fast transport is unavailable (${error.code ?? error.name}: ${error.message})`;
    if (!fallbackWarned) {
      fallbackWarned = true;
      process.emitWarning(`@fastmd/ipc: ${info.reason}; ` +
        'using the legacy NDJSON transport. Set FASTMD_IPC=legacy to choose it without this warning.',
      { code: 'FASTMD_FALLBACK' });
    }
    return reported(new Client(legacy, options, info), onTransport);
  }
  info.transport = 'fast';
  info.platform = require('./fast/addon').loadAddon().platform ?? null;
  return reported(new Client(fast, options, info), onTransport);
}

/**
 * The addon's locateDaemon (sdk-cpp/src/ipc/daemon_locator.hpp): with `rollout`, first the
 * FASTMD_IPC_ROLLOUT decision; then the daemon to use, the per-user one started if need be.
 */
async function locateDaemon(options, rollout) {
  const addon = require('./fast/addon').loadAddon();
  try {
    return await addon.locateDaemon({ socket: options.socket || '', callerDirs: callerBinDirs(), rollout });
  } catch (error) {
    throw fromNative(error);
  }
}

/** Calls the onTransport hook; if it throws, the client is closed and connect() rejects. */
async function reported(client, onTransport) {
  if (onTransport === undefined) return client;
  try {
    onTransport(client.transportInfo);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

function openLegacy(options) {
  return require('./transports/legacy').openLegacyTransport(options);
}

module.exports = { connect, Client, FastmdError, ERRNO };
