// Type declarations of @fastmd/ipc (hand-written; the implementation is lib/index.js).

/// <reference types="node" />

/** Which path calls take: `fast` (fastmd-ipcd, direct channels, shared memory) or `legacy` (NDJSON over worker children's stdio). */
export type TransportName = 'fast' | 'legacy';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /**
   * fastmd-ipcd's socket (fast). Default: env FASTMD_IPC_SOCKET, else the system daemon
   * (/run/fastmd/ipcd.sock) when it answers, else the per-user daemon
   * ($XDG_RUNTIME_DIR/fastmd/ipcd.sock, else /tmp/fastmd-<uid>/ipcd.sock), started on first use.
   */
  socket?: string;
  /**
   * `auto` (default, or env FASTMD_IPC) takes fast for the share of processes env
   * FASTMD_IPC_ROLLOUT gives (0–100, all when unset; stable per process) and legacy for the
   * rest, and falls back to legacy with one warning (code FASTMD_FALLBACK) when fast cannot be
   * had; `fast` never falls back.
   */
  transport?: 'auto' | TransportName;
  /**
   * Called once, before connect() resolves, with how the transport was chosen: a metric hook
   * that needs no process warning. If it throws, the client is closed and connect() rejects.
   * @example await connect({ onTransport: (info) => metrics.increment(`fastmd.transport.${info.transport}`) });
   */
  onTransport?: (info: TransportInfo) => void;
  /** Legacy worker: a path (started with `--stdio`) or a full argv. Default: env FASTMD_WORKER, else fastmd-worker-md from FASTMD_BIN_DIR, a checkout's build/bin, PATH, /usr/local/sbin or /usr/sbin. */
  workerCommand?: string | string[];
  /** Legacy: how many worker children to start (default 1); calls go to the one with the fewest outstanding. */
  workers?: number;
  /** Default deadline of every call, in milliseconds (none by default); also bounds the fast handshake. */
  timeoutMs?: number;
  /** How long the fast handshake with fastmd-ipcd may take (default: timeoutMs, else 2000 ms). */
  handshakeTimeoutMs?: number;
  /**
   * Fast: when the event loop is about to sleep with calls in flight and nothing else to do,
   * how long it first polls shared memory for their answers, in microseconds. Unset (the
   * default): adaptive, only while a core is free and about as long as recent answers took,
   * at most 50 µs a wait, not at all while they come slowly. 0: never. Another value: up to that
   * long every wait. A spin saves a wake-up per round trip at the price of CPU; it stops as soon
   * as other I/O, a timer or an immediate is due, and never holds the loop for more than about
   * 10 ms in a row. Legacy ignores it.
   * @example const client = await connect({ transport: 'fast', spinUs: 0 }); // never spin
   */
  spinUs?: number;
}

/** How {@link connect} chose the transport ({@link ConnectOptions.onTransport}, {@link Client.transportInfo}). */
export interface TransportInfo {
  /** The path calls take. */
  readonly transport: TransportName;
  /** What was asked for: the `transport` option, else env FASTMD_IPC, else 'auto'. */
  readonly requested: 'auto' | TransportName;
  /**
   * Fast: where the daemon came from — 'configured' (the `socket` option or FASTMD_IPC_SOCKET),
   * 'system', 'user-running' (the per-user daemon was up) or 'user-started' (this connect
   * started it). null for legacy.
   */
  readonly source: 'configured' | 'system' | 'user-running' | 'user-started' | null;
  /** Fast: the daemon's socket; null for legacy. */
  readonly socketPath: string | null;
  /** Legacy: why (the rollout's decision, the fallback's error, or that legacy was asked for); null for fast. */
  readonly reason: string | null;
  /**
   * Fast: the platform layer the addon was built with (docs/platforms.md), so a degraded build
   * is visible; null for legacy.
   * @example if (client.transportInfo.platform?.poller === 'poll') log('portable POSIX poller');
   */
  readonly platform: PlatformLayer | null;
}

/** What the addon's platform layer does ({@link TransportInfo.platform}). */
export interface PlatformLayer {
  /** The implementation: 'linux', 'posix', 'macos' or 'freebsd'. */
  readonly name: string;
  /** How memory objects are made: 'memfd' or 'shm_open'. */
  readonly memoryBacking: string;
  /** Whether memory objects are sealed against shrinking (Linux memfds). */
  readonly sealing: boolean;
  /** What the client's I/O loop waits with: 'epoll', 'kqueue' (macOS, FreeBSD) or 'poll'. */
  readonly poller: string;
  /** How a peer's exit is seen: 'pidfd' (Linux), 'kqueue' (macOS, FreeBSD) or 'eof' (socket end only). */
  readonly liveness: string;
  /** Where a peer's credentials come from, e.g. 'SO_PEERCRED+SO_PEERGROUPS' or 'getpeereid'. */
  readonly credentials: string;
}

/** Options of one call. */
export interface CallOptions {
  /** Aborting rejects the call with `signal.reason` and cancels it at the worker. */
  signal?: AbortSignal;
  /** Rejects with FASTMD_TIMEOUT after this many milliseconds (default: connect's timeoutMs). */
  timeoutMs?: number;
  /** The result's kind; default: the payload's kind (string in, string out; bytes in, Buffer out). */
  as?: 'string' | 'buffer';
  /** Re-send the call to another (or the restarted) worker if its worker dies (default true). */
  idempotent?: boolean;
}

export type Payload = string | Uint8Array | ArrayBuffer;

type ResultOf<P, O> = O extends { as: 'string' } ? string
  : O extends { as: 'buffer' } ? Buffer
  : P extends string ? string : Buffer;

/** A worker as {@link Client.workers} lists it. */
export interface WorkerInfo {
  pid: number;
  /** Calls sent to it and not answered yet. */
  outstanding: number;
  /** fast: the worker's label in the daemon. */
  name?: string;
}

/** A connection to workers, from {@link connect}. */
export declare class Client implements AsyncDisposable {
  private constructor();
  /** The path calls take. */
  readonly transport: TransportName;
  /** How connect() chose the transport (what `onTransport` received). */
  readonly transportInfo: TransportInfo;
  /** The workers calls can go to now, with their load; calls go to the one with the fewest outstanding. */
  readonly workers: WorkerInfo[];
  /** Calls `method` with `payload`; rejects with a {@link FastmdError} or, when aborted, `signal.reason`. */
  call<P extends Payload, O extends CallOptions = {}>(method: string, payload: P, options?: O): Promise<ResultOf<P, O>>;
  /** The Markdown job: Markdown in, HTML out. */
  transform<P extends Payload, O extends CallOptions = {}>(markdown: P, options?: O): Promise<ResultOf<P, O>>;
  /**
   * `method` once per payload, all in flight together; resolves with the results in the payloads'
   * order, or rejects with the first failure. Fast: the batch is written to each worker's channel
   * in a few writes and settled as one request (one deadline, one abort listener), the
   * throughput API.
   * @example const pages = await client.callMany('transform', files.map((f) => fs.readFileSync(f)), { as: 'string' });
   */
  callMany<P extends Payload, O extends CallOptions = {}>(method: string, payloads: Iterable<P>, options?: O): Promise<Array<ResultOf<P, O>>>;
  /** Fails pending calls with FASTMD_CANCELLED and ends channels and children; afterwards the process can exit. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Connects with the chosen transport; rejects with a {@link FastmdError} when none can be used. */
export declare function connect(options?: ConnectOptions): Promise<Client>;

/** The protocol's error numbers by name (PROTOCOL.md §6). */
export declare const ERRNO: Readonly<Record<string, number>>;

/** Every failure the SDK reports: `code` is stable ('FASTMD_TIMEOUT'), `errno` the protocol number (302) when there is one. */
export declare class FastmdError extends Error {
  constructor(codeOrErrno: string | number, message: string, options?: { cause?: unknown });
  readonly code: FastmdErrorCode;
  readonly errno?: number;
}

export type FastmdErrorCode =
  | 'FASTMD_FRAME_TOO_LARGE' | 'FASTMD_FRAME_EMPTY' | 'FASTMD_MALFORMED' | 'FASTMD_LIMIT_EXCEEDED'
  | 'FASTMD_NOT_A_MAP' | 'FASTMD_MISSING_FIELD' | 'FASTMD_WRONG_FIELD_TYPE' | 'FASTMD_VERSION_MISMATCH'
  | 'FASTMD_UNKNOWN_TYPE' | 'FASTMD_TRAILING_BYTES' | 'FASTMD_UNEXPECTED_MESSAGE' | 'FASTMD_FD_MISMATCH'
  | 'FASTMD_INVALID_FIELD' | 'FASTMD_PERMISSION_DENIED' | 'FASTMD_HANDSHAKE_TIMEOUT' | 'FASTMD_QUOTA_EXCEEDED'
  | 'FASTMD_DAEMON_SHUTTING_DOWN' | 'FASTMD_NO_WORKER' | 'FASTMD_PEER_GONE' | 'FASTMD_DAEMON_UNREACHABLE'
  | 'FASTMD_WORKER_STOPPING'
  | 'FASTMD_METHOD_NOT_FOUND' | 'FASTMD_HANDLER_FAILED' | 'FASTMD_TIMEOUT' | 'FASTMD_CANCELLED'
  | 'FASTMD_PAYLOAD_TOO_LARGE' | 'FASTMD_SHM_UNKNOWN_SEGMENT' | 'FASTMD_SHM_OUT_OF_BOUNDS'
  | 'FASTMD_SHM_STALE_GENERATION' | 'FASTMD_SHM_NO_SPACE' | 'FASTMD_SHM_BAD_FD' | 'FASTMD_SHM_BAD_BLOCK'
  | 'FASTMD_INTERNAL' | 'FASTMD_IO_ERROR' | 'FASTMD_ADDON_UNAVAILABLE' | 'FASTMD_WORKER_UNAVAILABLE';
