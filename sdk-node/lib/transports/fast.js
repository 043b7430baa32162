'use strict';
// The fast transport: requests go straight to workers over the direct channels fastmd-ipcd
// introduced, payloads above the inline threshold through shared memory (native/). This file
// is the policy: which worker takes a call (fewest outstanding), what happens when one dies
// (in-flight calls are re-sent elsewhere), timeouts and aborts, reconnecting after a daemon
// restart. The addon does the I/O and memory; it keeps the event loop alive only while calls
// are in flight, so a process exits by itself when it has nothing left to do. Every policy
// number (sends per call, reconnect backoff, handshake bound, spin hold) comes from the
// addon's `policy` (fastmd/ipc/call_policy.hpp), the no-worker wait from the daemon.

const { loadAddon } = require('../fast/addon');
const { FastmdError, fastmdError } = require('../errors');
const { fromNative } = require('../fast/errors');
const { armCallLimits } = require('./transport');


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

class FastTransport {
  constructor(addon, options) {
    this.name = 'fast';
    this._addon = addon;
    this._policy = addon.policy;
    this._options = options;
    this.socketPath = addon.resolveSocketPath(options.socket || '');
    this._handshakeMs = options.handshakeTimeoutMs ?? options.timeoutMs ?? this._policy.handshakeTimeoutMs;
    this._spinUs = options.spinUs ?? 0;
    this._spinHeldSince = null; // when spins began holding the event loop in this turn
    this._nextId = 1;
    this._calls = new Map(); // id -> call (sent or queued)
    this._queue = []; // calls waiting for a worker
    this._workers = new Set(); // the workers new calls may go to, each once (§3.8 item 4)
    this._sessions = new Set();
    this._session = null; // the session new work is registered with
    this._closed = false;
    this._reconnectTimer = null;
    this._reconnectDelay = this._policy.reconnectMinMs;
    this._noWorkerTimer = null;
  }

  /** The workers calls can go to now, with their load: [{name, pid, segment, outstanding}]. */
  get workers() {
    return [...this._workers].map(({ name, pid, segment, outstanding }) => ({ name, pid, segment, outstanding }));
  }

  /**
   * How payloads have travelled over the open sessions, by path:
   * {sent: {inline, segment, oneoff}, received: {inline, segment, oneoff, inPlace}, heldBytes}.
   * received.inPlace counts segment results that became Buffers without a copy; heldBytes is
   * what such Buffers still alive hold of the workers' segments (docs/sdk-node.md).
   */
  get stats() {
    const total = { sent: { inline: 0, segment: 0, oneoff: 0 },
      received: { inline: 0, segment: 0, oneoff: 0, inPlace: 0 }, heldBytes: 0 };
    for (const record of this._sessions) {
      const counts = record.native.stats();
      for (const direction of ['sent', 'received']) {
        for (const path of Object.keys(total[direction])) total[direction][path] += counts[direction][path];
      }
      total.heldBytes += counts.heldBytes;
    }
    return total;
  }

  /** Connects and completes ipc.hello within the handshake timeout; resolves with this. */
  async open() {
    await this._handshake();
    return this;
  }

  // Opens a session and completes its handshake within the timeout (first open, reconnects).
  _handshake() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this._closeSession(session);
        reject(fastmdError('HANDSHAKE_TIMEOUT',
          `fastmd-ipcd at ${this.socketPath} did not answer ipc.hello within ${this._handshakeMs} ms`));
      }, this._handshakeMs);
      // The addon keeps the loop alive while the handshake is in flight; after close() nothing.
      timer.unref();
      const session = this._connect((error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          this._closeSession(session);
          reject(error);
        } else {
          resolve();
        }
      });
    });
  }

  // Opens one native session; `onOpen(error|null)` is called once, when its handshake ends.
  _connect(onOpen) {
    // wants: this daemon session's ipc.want per method: null while asked, or the refusal
    // (METHOD_NOT_FOUND) that later calls fail with at once.
    const record = { native: null, workers: new Map(), ready: false, wants: new Map(), noWorkerWaitMs: undefined };
    const onEvent = (kind, data) => this._onEvent(record, kind, data, onOpen);
    const onResponses = (peer, codes, values) => this._onResponses(record, peer, codes, values);
    try {
      record.native = new this._addon.FastSession(this.socketPath, {
        name: this._options.name || `node:${process.pid}`,
        wants: this._options.wants || [],
        inlineThreshold: this._options.inlineThreshold,
      }, onEvent, onResponses);
    } catch (error) {
      queueMicrotask(() => onOpen(fromNative(error)));
      return record;
    }
    this._sessions.add(record);
    return record;
  }

  _onEvent(record, kind, data, onOpen) {
    switch (kind) {
      case 'ready':
        record.ready = true;
        record.segment = data.segment;
        record.noWorkerWaitMs = data.noWorkerWaitMs;
        // The hello's wants asked this daemon for those methods already (it answers them
        // with ipc.no_worker and introductions): calls for them wait without an ipc.want.
        for (const method of this._options.wants || []) record.wants.set(method, null);
        this._session = record;
        this._reconnectDelay = this._policy.reconnectMinMs;
        onOpen(null);
        // A new daemon: calls still waiting for a worker ask it afresh.
        for (const call of this._queue) this._want(call.request.method);
        break;
      case 'failed':
        this._closeSession(record);
        onOpen(new FastmdError(data.errno, data.message));
        break;
      case 'introduce': {
        // A peer introduced again replaces its old channel: its calls go out afresh.
        if (record.workers.has(data.peer)) this._dropWorker(record, data.peer, 'introduced again');
        const worker = {
          session: record, peer: data.peer, name: data.name, pid: data.pid, segment: data.segment,
          methods: new Set(data.methods), outstanding: 0,
        };
        record.workers.set(data.peer, worker);
        // The same worker on a channel of an earlier daemon connection (PROTOCOL.md §3.8 item 4)
        // takes no new call now; the addon closes that channel once its calls are settled.
        for (const earlier of [...this._workers]) {
          if (earlier.session !== record && earlier.pid === data.pid) this._supersede(earlier);
        }
        this._workers.add(worker);
        this._drainQueue();
        break;
      }
      case 'peer_gone':
      case 'peer_closed':
        this._dropWorker(record, data.peer, data.message);
        break;
      case 'peer_draining': {
        // The worker is stopping (PROTOCOL.md §3.11): no new calls go to it; its channel is
        // closed once its calls are answered, so it can end sooner.
        const worker = record.workers.get(data.peer);
        if (worker) {
          worker.draining = true;
          this._workers.delete(worker);
          this._closeIfDrained(worker);
        }
        break;
      }
      case 'no_worker':
        this._armNoWorker(data.waitMs);
        break;
      case 'want_answered':
        this._wantAnswered(record, data);
        break;
      case 'control_closed':
        // The daemon went away: its direct channels keep serving; a new session takes new work.
        if (this._session === record) this._session = null;
        record.ready = false;
        if (record.workers.size === 0) this._closeSession(record);
        this._scheduleReconnect();
        break;
      default:
        break; // 'shutdown': established channels keep working until the daemon is gone
    }
  }

  // Answers from one worker: `codes` [id, errno, ...], `values` the results or error messages.
  _onResponses(record, peer, codes, values) {
    const worker = record.workers.get(peer);
    for (let i = 0; i < values.length; i++) {
      const call = this._calls.get(codes[2 * i]); // pending, if found
      if (!call || call.worker !== worker) continue;
      const errno = codes[2 * i + 1];
      if (errno === 0) this._answered(call, null, values[i]);
      else if (errno === this._addon.errno.PEER_GONE) this._retry(call, values[i]);
      else if (errno === this._policy.notRunAnswer) this._resendNotRun(call, values[i]);
      else this._settle(call, new FastmdError(errno, values[i]));
    }
    if (worker) this._closeIfDrained(worker);
  }

  // The stopping worker did not run `call` (policy.notRunAnswer): it sends that worker nothing
  // new, and the call goes elsewhere, idempotent or not, within policy.maxSendsPerCall.
  _resendNotRun(call, message) {
    const worker = call.worker;
    worker.draining = true;
    this._workers.delete(worker);
    if (call.attempts >= this._policy.maxSendsPerCall) {
      this._settle(call, new FastmdError(this._policy.notRunAnswer, message));
      return;
    }
    worker.outstanding -= 1;
    call.worker = null;
    this._dispatch(call);
  }

  // A draining worker none of whose calls is left: its channel closes ('peer_closed' follows),
  // after the native callback that got here has returned (it may be reading that channel).
  _closeIfDrained(worker) {
    if (!worker.draining || worker.outstanding !== 0 || worker.closing) return;
    worker.closing = true;
    setImmediate(() => {
      if (worker.outstanding === 0 && worker.session.workers.get(worker.peer) === worker) {
        worker.session.native.closePeer(worker.peer);
      } else {
        worker.closing = false;
      }
    });
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
   * (the other calls are then dropped).
   */
  callMany(method, payloads, options = {}) {
    return this._submit(method, Array.from(payloads), options, true);
  }

  // The calls of one call() or callMany(): a request, settled as a whole. It has one promise,
  // one deadline and one abort listener however many calls it holds; each call has an id.
  _submit(method, payloads, { signal, timeoutMs = this._options.timeoutMs, as, idempotent = this._options.idempotent ?? true }, many) {
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
      const request = {
        method, bodies, as, idempotent, firstId: this._nextId, results: many ? new Array(bodies.length) : null,
        pending: bodies.length, calls: null, done: false, resolve, reject, timer: null, signal, onAbort: null,
      };
      this._nextId += bodies.length;
      request.calls = bodies.map((body, index) => {
        const call = { id: request.firstId + index, index, request, worker: null, attempts: 0 };
        this._calls.set(call.id, call);
        return call;
      });
      armCallLimits(request, { signal, timeoutMs }, (r) => this._cancelRequest(r), (r, e) => this._failRequest(r, e));
      if (many) this._dispatchBatch(request);
      else this._dispatch(request.calls[0]);
      if (this._spinUs > 0) this._spin(request);
    });
  }

  // Spreads a batch over the workers serving its method in contiguous shares that even out
  // their loads; each share goes out with one sendMany.
  _dispatchBatch(request) {
    const workers = [...this._workers].filter((worker) => worker.methods.has(request.method));
    if (workers.length === 0) {
      for (const call of request.calls) this._wait(call);
      return;
    }
    workers.sort((a, b) => a.outstanding - b.outstanding);
    const count = request.calls.length;
    const load = workers.reduce((sum, worker) => sum + worker.outstanding, count);
    const fairShare = Math.ceil(load / workers.length);
    let start = 0;
    for (let w = 0; w < workers.length && start < count && !request.done; w++) {
      const last = w === workers.length - 1;
      const end = last ? count : Math.min(count, start + Math.max(0, fairShare - workers[w].outstanding));
      if (end > start) this._sendShare(workers[w], request, start, end);
      start = end;
    }
  }

  // Sends calls [start, end) of a batch to `worker`; if its channel failed, they go singly
  // to the others.
  _sendShare(worker, request, start, end) {
    let unplaced;
    try {
      unplaced = worker.session.native.sendMany(worker.peer, request.firstId, request.method, request.bodies,
        start, end, request.as === undefined ? undefined : request.as === 'string');
    } catch (error) {
      const failure = fromNative(error);
      if (failure.code !== 'FASTMD_PEER_GONE') return this._failRequest(request, failure);
      this._dropWorker(worker.session, worker.peer, failure.message);
      for (let i = start; i < end; i++) {
        const call = request.calls[i];
        if (this._calls.get(call.id) === call) this._dispatch(call);
      }
      return;
    }
    for (let i = start; i < end; i++) {
      const call = request.calls[i];
      call.worker = worker;
      call.attempts += 1;
    }
    worker.outstanding += end - start;
    for (let i = 0; i < unplaced.length; i += 3) {
      this._settle(request.calls[unplaced[i]], new FastmdError(unplaced[i + 1], unplaced[i + 2]));
    }
  }

  // Sends one call to the least busy live worker serving its method, or queues it.
  _dispatch(call) {
    const { request } = call;
    for (;;) {
      let best = null;
      for (const worker of this._workers) {
        if (!worker.methods.has(request.method)) continue;
        if (best === null || worker.outstanding < best.outstanding) best = worker;
      }
      if (best === null) {
        this._wait(call);
        return;
      }
      const body = request.bodies[call.index];
      try {
        best.session.native.send(best.peer, call.id, request.method, body,
          request.as ? request.as === 'string' : typeof body === 'string');
      } catch (error) {
        const failure = fromNative(error);
        if (failure.code === 'FASTMD_PEER_GONE') {
          this._dropWorker(best.session, best.peer, failure.message);
          continue;
        }
        this._settle(call, failure);
        return;
      }
      call.worker = best;
      call.attempts += 1;
      best.outstanding += 1;
      return;
    }
  }

  // spinUs: before the event loop runs again, polls each channel a request just went to
  // until its last call there is answered or spinUs µs passed; answers found settle as usual.
  // Calls answered within the spin never return to the event loop, so after policy.spinHoldMaxMs
  // of them in a row the next call waits in the loop.
  _spin(request) {
    const now = performance.now();
    if (this._spinHeldSince === null) {
      this._spinHeldSince = now;
      setImmediate(() => { this._spinHeldSince = null; });
    } else if (now - this._spinHeldSince > this._policy.spinHoldMaxMs) {
      return;
    }
    const lastCallOf = new Map();
    for (const call of request.calls) if (call.worker) lastCallOf.set(call.worker, call);
    for (const [worker, call] of lastCallOf) {
      if (!this._workers.has(worker)) continue;
      const answers = worker.session.native.spin(worker.peer, call.id, this._spinUs);
      if (answers) this._onResponses(worker.session, worker.peer, answers[0], answers[1]);
    }
  }

  _drainQueue() {
    const waiting = this._queue;
    this._queue = [];
    for (const call of waiting) {
      if (this._calls.get(call.id) === call) this._dispatch(call);
    }
    if (this._queue.length === 0 && this._noWorkerTimer) {
      clearTimeout(this._noWorkerTimer);
      this._noWorkerTimer = null;
    }
  }

  // Parks a call that no introduced worker serves: it fails at once when this daemon session
  // refused its method, else it waits for a worker, and the daemon is asked for one.
  _wait(call) {
    const refusal = this._session?.wants.get(call.request.method);
    if (refusal) {
      this._settle(call, refusal);
      return;
    }
    this._queue.push(call);
    this._want(call.request.method);
    this._armNoWorker(undefined);
  }

  // Sends ipc.want for `method` once per daemon session (while it is not answered), when
  // the daemon takes it (it said its no-worker wait).
  _want(method) {
    const record = this._session;
    if (!record || record.noWorkerWaitMs === undefined || record.wants.has(method)) return;
    try {
      record.native.want(method);
      record.wants.set(method, null);
    } catch {
      // the control connection just ended: the next session asks again
    }
  }

  // The daemon answered ipc.want: a refusal fails the calls waiting for `method` with the
  // daemon's code and message, unchanged; METHOD_NOT_FOUND stands for the session.
  _wantAnswered(record, { method, errno, message }) {
    const refusal = errno === 0 ? null : new FastmdError(errno, message);
    if (refusal?.errno === this._addon.errno.METHOD_NOT_FOUND) record.wants.set(method, refusal);
    else record.wants.delete(method);
    if (!refusal) return;
    const failed = this._queue.filter((call) => call.request.method === method);
    this._queue = this._queue.filter((call) => call.request.method !== method);
    for (const call of failed) this._settle(call, refusal);
  }

  // Fails queued calls that found no worker within `waitMs`: the daemon's ipc.no_worker, else
  // its no-worker wait (it answers ipc.want by then; the margin bounds a dead daemon's).
  _armNoWorker(waitMs) {
    if (this._queue.length === 0) return;
    if (this._noWorkerTimer) {
      if (waitMs === undefined) return;
      clearTimeout(this._noWorkerTimer);
    }
    this._noWorkerTimer = setTimeout(() => {
      this._noWorkerTimer = null;
      const waiting = this._queue;
      this._queue = [];
      for (const call of waiting) {
        this._settle(call, fastmdError('NO_WORKER',
          `no worker serving '${call.request.method}' was introduced by fastmd-ipcd at ${this.socketPath}`));
      }
    }, waitMs ?? this._noWorkerWaitMs());
  }

  // How long a call waits for a worker when the daemon did not say otherwise.
  _noWorkerWaitMs() {
    const announced = this._session?.noWorkerWaitMs;
    if (announced === undefined) return this._policy.noWorkerWaitUnannouncedMs;
    return announced + this._policy.daemonAnswerMarginMs;
  }

  // A worker ended: forget it and re-send its calls to another worker (calls are idempotent).
  _dropWorker(record, peer, reason) {
    const worker = record.workers.get(peer);
    if (!worker) return;
    record.workers.delete(peer);
    this._workers.delete(worker);
    const stranded = [];
    for (const call of this._calls.values()) if (call.worker === worker) stranded.push(call);
    for (const call of stranded) this._retry(call, reason);
    if (record !== this._session && record.workers.size === 0) this._closeSession(record);
  }

  // Takes `call` off its worker, which ended or lost the result, and sends it again elsewhere
  // (calls are idempotent unless the client said otherwise), or fails it with PEER_GONE.
  _retry(call, reason) {
    const worker = call.worker;
    if (worker) {
      worker.outstanding -= 1;
      call.worker = null;
    }
    if (call.attempts >= this._policy.maxSendsPerCall || !call.request.idempotent) {
      const who = worker ? worker.name || worker.peer : 'the worker';
      this._settle(call, fastmdError('PEER_GONE',
        `${who} ended while '${call.request.method}' was in flight (${reason})`));
    } else {
      this._dispatch(call);
    }
  }

  // A deadline or an abort takes a request back: its workers are asked to cancel its calls.
  _cancelRequest(request) {
    for (const call of request.calls) {
      const worker = call.worker;
      if (!worker || this._calls.get(call.id) !== call) continue;
      try {
        worker.session.native.cancel(worker.peer, call.id);
      } catch {
        // the channel is gone: nothing to cancel
      }
    }
  }

  // One call answered (or failed): a single call's request settles with it, a batch when its
  // last call has answered or at its first failure.
  _settle(call, error, value) {
    if (this._calls.get(call.id) === call) this._answered(call, error, value);
  }

  // _settle of a call known to be pending.
  _answered(call, error, value) {
    this._release(call);
    const { request } = call;
    if (error) {
      this._failRequest(request, error);
    } else if (request.results === null) {
      this._finish(request, value);
    } else {
      request.results[call.index] = value;
      if (--request.pending === 0) this._finish(request, request.results);
    }
  }

  // Takes a call off the books if it is pending; false if it was not.
  _forget(call) {
    if (this._calls.get(call.id) !== call) return false;
    this._release(call);
    return true;
  }

  // Takes a pending call off the books: the id map, its worker's load, the queue.
  _release(call) {
    this._calls.delete(call.id);
    if (call.worker) {
      call.worker.outstanding -= 1;
      call.worker = null;
    } else {
      const queued = this._queue.indexOf(call);
      if (queued >= 0) this._queue.splice(queued, 1);
    }
  }

  _finish(request, value) {
    request.done = true;
    this._clearLimits(request);
    request.resolve(value);
  }

  // Rejects a request; its calls still pending are dropped (their answers will be ignored).
  _failRequest(request, error) {
    if (request.done) return;
    request.done = true;
    for (const call of request.calls) {
      const worker = call.worker;
      if (this._forget(call) && worker) worker.session.native.abandon(worker.peer, call.id);
    }
    this._clearLimits(request);
    request.reject(error);
  }

  _clearLimits(request) {
    if (request.timer) clearTimeout(request.timer);
    if (request.onAbort) request.signal.removeEventListener('abort', request.onAbort);
  }

  _scheduleReconnect() {
    if (this._closed || this._reconnectTimer || this._session) return;
    const delay = this._reconnectDelay;
    this._reconnectDelay = Math.min(delay * 2, this._policy.reconnectMaxMs);
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      if (this._closed || this._session) return;
      this._handshake().catch(() => this._scheduleReconnect());
    }, delay);
    // Reconnecting alone never keeps a process alive; queued calls arm their own timer.
    this._reconnectTimer.unref();
  }

  // A worker of an earlier session was introduced again by the current daemon: it leaves the
  // list and takes no new call there; the addon closes its channel once its calls in flight
  // are settled, and the session, with its segment mappings, goes with its last channel
  // (_dropWorker).
  _supersede(worker) {
    this._workers.delete(worker);
    worker.session.native.retire(worker.peer);
  }

  _closeSession(record) {
    if (!this._sessions.delete(record)) return;
    if (this._session === record) this._session = null;
    for (const worker of record.workers.values()) this._workers.delete(worker);
    record.workers.clear();
    record.native?.close();
  }

  /** Fails what is still pending, closes every channel; the process may then exit. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._noWorkerTimer);
    const pending = new Set(Array.from(this._calls.values(), (call) => call.request));
    for (const request of pending) {
      this._failRequest(request, fastmdError('CANCELLED', 'the client was closed while the call was pending'));
    }
    for (const record of [...this._sessions]) this._closeSession(record);
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
