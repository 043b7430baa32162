'use strict';
// The legacy transport: worker processes started as children with `--stdio`, spoken to in
// NDJSON over their stdin/stdout (PROTOCOL.md §8). It is the fallback when the fast path is
// unavailable and the baseline every benchmark compares against, so it is made to be fast:
// many calls in flight per worker matched by id, each call to the worker with the fewest
// outstanding, one write per request, and a line splitter that scans only new bytes.
// A worker that dies is restarted and its in-flight calls re-sent (idempotent calls, the
// default) or failed with FASTMD_PEER_GONE. Children are unref'd while nothing is in flight,
// so a process that forgets close() still exits.

const { spawn } = require('node:child_process');
const { findBinary } = require('../binaries');
const { decodeLine, encodeLine } = require('../ndjson');
const { FastmdError, fastmdError } = require('../errors');
const { armCallLimits } = require('./transport');

const WORKER_BINARY = 'fastmd-worker-md';
// How many times a call is sent at most when the workers holding it died (the C++ core's
// policy, fastmd/ipc/call_policy.hpp, through lib/policy.json).
const { maxSendsPerCall: MAX_ATTEMPTS } = require('../policy.json');
// A worker that dies this soon after starting, twice in a row, is not restarted again.
const CRASH_LOOP_MS = 1000;
const CLOSE_GRACE_MS = 2000;
const STDERR_TAIL_BYTES = 4096;

/**
 * The worker's argv: option `workerCommand` (a path, given `--stdio`, or a full argv array),
 * else env FASTMD_WORKER (a path), else fastmd-worker-md (lib/binaries.js).
 */
function resolveWorkerCommand(workerCommand) {
  if (Array.isArray(workerCommand)) {
    if (workerCommand.length === 0) throw new TypeError('workerCommand must not be empty');
    return workerCommand.map(String);
  }
  if (workerCommand) return [String(workerCommand), '--stdio'];
  if (process.env.FASTMD_WORKER) return [process.env.FASTMD_WORKER, '--stdio'];
  return [findBinary(WORKER_BINARY), '--stdio'];
}

/**
 * Splits a byte stream into lines. Each chunk is scanned once, from where the previous scan
 * stopped; a line spanning chunks is joined only when its end arrives.
 */
class LineSplitter {
  constructor(onLine, maxLine) {
    this.onLine = onLine;
    this.maxLine = maxLine;
    this.pending = []; // chunks of the current unfinished line
    this.pendingBytes = 0;
  }

  push(chunk) {
    let start = 0;
    let end = chunk.indexOf(10);
    while (end !== -1) {
      let line = chunk.subarray(start, end);
      if (this.pending.length > 0) {
        this.pending.push(line);
        line = Buffer.concat(this.pending, this.pendingBytes + line.length);
        this.pending = [];
        this.pendingBytes = 0;
      }
      this.onLine(line);
      start = end + 1;
      end = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      this.pending.push(start === 0 ? chunk : chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLine) {
        throw fastmdError('FRAME_TOO_LARGE', `a line of more than ${this.maxLine} bytes`);
      }
    }
  }
}

/** One worker child and the calls it holds. */
class WorkerProcess {
  constructor(transport, index) {
    this.transport = transport;
    this.index = index;
    this.calls = new Map(); // id -> call
    this.startedAt = Date.now();
    this.stderrTail = '';
    this.exited = false;
    const [file, ...args] = transport.argv;
    this.child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.splitter = new LineSplitter((line) => this._onLine(line), transport.maxLine);
    this.child.stdout.on('data', (chunk) => {
      try {
        this.splitter.push(chunk);
      } catch (error) {
        this._fail(error);
      }
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    this.child.stdin.on('error', () => {}); // EPIPE when the child died: its 'close' reports it
    this.child.on('error', (error) => this._fail(fastmdError('WORKER_UNAVAILABLE',
      `could not start the worker ${file}: ${error.message}`)));
    // 'close' (not 'exit'): every line the worker wrote before it ended has been read by then.
    this.child.on('close', (code, signal) => this._onExit(code, signal));
    this._setRef(false);
  }

  get outstanding() {
    return this.calls.size;
  }

  get pid() {
    return this.child.pid;
  }

  // Only a worker with calls in flight keeps the event loop alive.
  _setRef(ref) {
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr];
    for (const handle of handles) {
      if (ref) handle.ref?.();
      else handle.unref?.();
    }
  }

  send(call) {
    if (this.calls.size === 0) this._setRef(true);
    this.calls.set(call.id, call);
    call.worker = this;
    this.child.stdin.write(call.line);
  }

  /** Takes back a call that ended on the caller's side (timeout, abort). */
  withdraw(call) {
    if (!this.calls.delete(call.id)) return;
    call.worker = null;
    if (!this.exited) {
      this.child.stdin.write(encodeLine({ type: 'notification', method: 'ipc.cancel', payload: JSON.stringify({ id: call.id }) }));
    }
    if (this.calls.size === 0) this._setRef(false);
  }

  _onLine(line) {
    let message;
    try {
      message = decodeLine(line);
    } catch (error) {
      const code = error instanceof FastmdError ? error.code : 'FASTMD_INTERNAL';
      this._fail(new FastmdError(code, `worker ${this.pid} wrote an invalid line: ${error.message}`));
      return;
    }
    if (message.type !== 'response') return;
    const call = this.calls.get(message.id);
    if (!call) return; // answered after a timeout or abort: nobody waits for it any more
    this.calls.delete(message.id);
    call.worker = null;
    if (this.calls.size === 0) this._setRef(false);
    this.transport._answer(call, message);
  }

  // The worker broke the protocol or could not be started: it is ended, and its 'close'
  // re-sends or fails its calls.
  _fail(error) {
    this.failure ??= error;
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      this.child.kill('SIGKILL');
    } else if (this.child.pid === undefined) {
      this._onExit(null, null);
    }
  }

  _onExit(code, signal) {
    if (this.exited) return;
    this.exited = true;
    this._setRef(false);
    const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
    const reason = this.failure ?? fastmdError('PEER_GONE', `worker ${this.pid ?? this.transport.argv[0]} ${how}` +
      (this.stderrTail ? `: ${this.stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''));
    const calls = [...this.calls.values()];
    this.calls.clear();
    this.transport._workerEnded(this, reason, calls);
  }

  /** Ends the child: EOF on its stdin (it answers what it holds and exits), then signals. */
  stop() {
    if (this.exited) return Promise.resolve();
    // Referenced until it has closed: an idle (unref'd) child killed after the grace period
    // would otherwise let the event loop end with this promise pending.
    this._setRef(true);
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill('SIGKILL'), CLOSE_GRACE_MS);
      this.child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      this.child.stdin.end();
    });
  }
}

class LegacyTransport {
  constructor(options) {
    this.name = 'legacy';
    this.argv = resolveWorkerCommand(options.workerCommand);
    this.maxLine = options.maxLine ?? 2 ** 30;
    this._count = Math.max(1, Math.floor(options.workers ?? 1));
    this._workers = [];
    this._nextId = 1;
    this._closed = false;
    this._lastCrash = null;
    for (let i = 0; i < this._count; i++) this._workers.push(new WorkerProcess(this, i));
  }

  /** The live workers and their load: [{pid, outstanding}]. */
  get workers() {
    return this._workers.filter(Boolean).map((w) => ({ pid: w.pid, outstanding: w.outstanding }));
  }

  // Resolves once every worker has spawned (or rejects with why one could not).
  ready() {
    return Promise.all(this._workers.map((worker) => new Promise((resolve, reject) => {
      worker.child.once('spawn', resolve);
      worker.child.once('error', (error) => reject(fastmdError('WORKER_UNAVAILABLE',
        `could not start the worker ${this.argv[0]}: ${error.message}`)));
    }))).then(() => this);
  }

  /**
   * Calls `method` with `payload` on the worker with the fewest calls outstanding. Resolves
   * with a string or Buffer (`as`, else the payload's kind).
   */
  call(method, payload, { signal, timeoutMs, as, idempotent = true } = {}) {
    if (this._closed) return Promise.reject(fastmdError('CANCELLED', 'the client is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    let line;
    let asString;
    try {
      const body = normalizePayload(payload);
      asString = as ? as === 'string' : typeof body === 'string';
      line = encodeLine({ type: 'request', id: this._nextId, method, payload: body });
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const call = { id, method, line, asString, idempotent, resolve, reject, worker: null, attempts: 0, timer: null, signal, onAbort: null };
      armCallLimits(call, { signal, timeoutMs }, (c) => c.worker?.withdraw(c), (c, e) => this._settle(c, e));
      this._dispatch(call);
    });
  }

  /** Calls `method` once per payload, all in flight together; resolves in payload order. */
  callMany(method, payloads, options = {}) {
    return Promise.all(Array.from(payloads, (payload) => this.call(method, payload, options)));
  }

  _dispatch(call) {
    let best = null;
    for (const worker of this._workers) {
      if (worker && (best === null || worker.outstanding < best.outstanding)) best = worker;
    }
    if (best === null) {
      this._settle(call, fastmdError('WORKER_UNAVAILABLE', `no worker process is running (${this.argv[0]})`));
      return;
    }
    call.attempts++;
    best.send(call);
  }

  _answer(call, message) {
    if (message.error) {
      this._settle(call, new FastmdError(message.error.code, message.error.message || `${call.method} failed`));
      return;
    }
    const result = message.payload;
    let value;
    if (call.asString) value = typeof result === 'string' ? result : result.toString('utf8');
    else value = typeof result === 'string' ? Buffer.from(result, 'utf8') : result;
    this._settle(call, null, value);
  }

  _settle(call, error, value) {
    if (call.settled) return;
    call.settled = true;
    clearTimeout(call.timer);
    if (call.onAbort) call.signal.removeEventListener('abort', call.onAbort);
    if (error) call.reject(error);
    else call.resolve(value);
  }

  // A worker ended: restart it (unless it crash-loops or we are closing) and re-send its
  // idempotent calls; the others fail with the reason it ended.
  _workerEnded(worker, reason, calls) {
    const slot = this._workers.indexOf(worker);
    if (slot !== -1) this._workers[slot] = null;
    if (!this._closed && slot !== -1) {
      const quick = Date.now() - worker.startedAt < CRASH_LOOP_MS;
      const looping = quick && this._lastCrash !== null && Date.now() - this._lastCrash < CRASH_LOOP_MS;
      this._lastCrash = quick ? Date.now() : null;
      if (!looping && reason.code !== 'FASTMD_WORKER_UNAVAILABLE') this._workers[slot] = new WorkerProcess(this, slot);
    }
    for (const call of calls) {
      call.worker = null;
      if (call.settled) continue;
      if (this._closed || !call.idempotent || call.attempts >= MAX_ATTEMPTS) {
        const failure = call.idempotent || reason.code !== 'FASTMD_PEER_GONE' ? reason
          : fastmdError('PEER_GONE', `${reason.message}; ${call.method} is not idempotent, so it was not re-sent`);
        this._settle(call, failure);
      } else {
        this._dispatch(call);
      }
    }
  }

  /** Fails pending calls with FASTMD_CANCELLED and ends every worker (bounded). */
  async close() {
    if (this._closed) return;
    this._closed = true;
    const workers = this._workers.filter(Boolean);
    for (const worker of workers) {
      for (const call of worker.calls.values()) {
        this._settle(call, fastmdError('CANCELLED', 'the client was closed while the call was pending'));
      }
    }
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

/** A payload as the codec takes it: a string, or a Buffer viewing the caller's bytes. */
function normalizePayload(payload) {
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array || ArrayBuffer.isView(payload)) {
    return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  if (payload instanceof ArrayBuffer) return Buffer.from(payload);
  if (payload === undefined || payload === null) return '';
  throw new TypeError('a payload must be a string, Buffer, Uint8Array or ArrayBuffer');
}

/**
 * Starts the worker processes (option `workers`, default 1) and resolves once they run.
 * Rejects with FASTMD_WORKER_UNAVAILABLE when the worker command cannot be found or started.
 * @type {import('./transport').OpenTransport}
 */
async function openLegacyTransport(options = {}) {
  const transport = new LegacyTransport(options);
  try {
    return await transport.ready();
  } catch (error) {
    await transport.close();
    throw error;
  }
}

module.exports = { openLegacyTransport, resolveWorkerCommand, LineSplitter };
