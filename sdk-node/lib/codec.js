'use strict';
// The wire codecs of proto/PROTOCOL.md in JavaScript: MessagePack frames (§1–2: a 4-byte
// little-endian length, then one map with its keys in the table's order and the payload
// last) and NDJSON lines (§8, the legacy path). Decoding is strict in the same way as the C++
// codec (fastmd/proto/codec.hpp): the length is checked before anything is read, every value
// runs under the unpack limits, and each failure is a FastmdError with the protocol's code.
// Both are checked byte for byte against proto/vectors/ (test/codec.test.js).
//
// A message here is {version, type, id, method, error, shm, fds, payload}: `payload` is a
// Uint8Array (a view into the decoded bytes, never a copy) for `params` or `result`; `id` is
// a number, or a BigInt above Number.MAX_SAFE_INTEGER.

const { isUtf8 } = require('node:buffer');
const { fastmdError } = require('./errors');

const PROTOCOL_VERSION = 1;
const FRAME_HEADER_BYTES = 4;
const MAX_METHOD_BYTES = 128;
const MAX_FDS_PER_FRAME = 4;
const DEFAULT_MAX_CONTROL_FRAME = 64 * 1024;
const DEFAULT_MAX_DATA_FRAME = 64 * 1024 * 1024 + 64 * 1024;

/** The unpack limits of PROTOCOL.md §1 for a channel whose frames are at most `maxFrame`. */
function decodeLimits(maxFrame = DEFAULT_MAX_CONTROL_FRAME) {
  return { maxFrame, depth: 6, array: 1024, map: 64, str: 64 * 1024, bin: maxFrame, ext: 0 };
}

const MESSAGE_TYPES = new Set(['request', 'response', 'notification']);

// ---------------------------------------------------------------------------------------
// MessagePack encoding (smallest forms, as msgpack-c and proto/vectors/generate.py write)

/** Appends MessagePack bytes to a growing list of chunks; numbers stay in a small scratch. */
class Writer {
  constructor() {
    this.chunks = [];
    this.scratch = Buffer.allocUnsafe(256);
    this.used = 0;
  }

  _room(bytes) {
    if (this.used + bytes <= this.scratch.length) return;
    this._flush();
    if (bytes > this.scratch.length) this.scratch = Buffer.allocUnsafe(bytes);
  }

  _flush() {
    if (this.used === 0) return;
    this.chunks.push(Buffer.from(this.scratch.subarray(0, this.used)));
    this.used = 0;
  }

  byte(value) {
    this._room(1);
    this.scratch[this.used++] = value;
  }

  uint(value) {
    if (typeof value === 'bigint') {
      if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`${value} is not a uint64`);
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
        this._room(9);
        this.scratch[this.used] = 0xcf;
        this.scratch.writeBigUInt64BE(value, this.used + 1);
        this.used += 9;
        return;
      }
      value = Number(value);
    }
    this._room(9);
    const at = this.used;
    if (value < 0x80) {
      this.scratch[at] = value;
      this.used += 1;
    } else if (value <= 0xff) {
      this.scratch[at] = 0xcc;
      this.scratch[at + 1] = value;
      this.used += 2;
    } else if (value <= 0xffff) {
      this.scratch[at] = 0xcd;
      this.scratch.writeUInt16BE(value, at + 1);
      this.used += 3;
    } else if (value <= 0xffffffff) {
      this.scratch[at] = 0xce;
      this.scratch.writeUInt32BE(value, at + 1);
      this.used += 5;
    } else {
      this.scratch[at] = 0xcf;
      this.scratch.writeBigUInt64BE(BigInt(value), at + 1);
      this.used += 9;
    }
  }

  int(value) {
    if (value >= 0) return this.uint(value);
    this._room(9);
    const at = this.used;
    if (value >= -32) {
      this.scratch.writeInt8(value, at);
      this.used += 1;
    } else if (value >= -0x80) {
      this.scratch[at] = 0xd0;
      this.scratch.writeInt8(value, at + 1);
      this.used += 2;
    } else if (value >= -0x8000) {
      this.scratch[at] = 0xd1;
      this.scratch.writeInt16BE(value, at + 1);
      this.used += 3;
    } else if (value >= -0x80000000) {
      this.scratch[at] = 0xd2;
      this.scratch.writeInt32BE(value, at + 1);
      this.used += 5;
    } else {
      this.scratch[at] = 0xd3;
      this.scratch.writeBigInt64BE(BigInt(value), at + 1);
      this.used += 9;
    }
  }

  // A str/bin/map/array header: the fix form when `fixBase` is given and n fits, else the
  // 8-, 16- or 32-bit form whose first byte is in `wide` (null where the form does not exist).
  header(n, fixBase, fixMax, wide) {
    this._room(5);
    const at = this.used;
    if (fixBase !== null && n <= fixMax) {
      this.scratch[at] = fixBase | n;
      this.used += 1;
    } else if (wide[0] !== null && n <= 0xff) {
      this.scratch[at] = wide[0];
      this.scratch[at + 1] = n;
      this.used += 2;
    } else if (n <= 0xffff) {
      this.scratch[at] = wide[1];
      this.scratch.writeUInt16BE(n, at + 1);
      this.used += 3;
    } else {
      this.scratch[at] = wide[2];
      this.scratch.writeUInt32BE(n, at + 1);
      this.used += 5;
    }
  }

  str(text) {
    const bytes = Buffer.byteLength(text);
    this.header(bytes, 0xa0, 31, [0xd9, 0xda, 0xdb]);
    this._room(bytes);
    this.used += this.scratch.write(text, this.used);
  }

  binHeader(length) {
    this.header(length, null, 0, [0xc4, 0xc5, 0xc6]);
  }

  bin(bytes) {
    this.binHeader(bytes.length);
    this.raw(bytes);
  }

  raw(bytes) {
    if (bytes.length <= 64) {
      this._room(bytes.length);
      this.scratch.set(bytes, this.used);
      this.used += bytes.length;
    } else {
      this._flush();
      this.chunks.push(bytes);
    }
  }

  mapHeader(n) {
    this.header(n, 0x80, 15, [null, 0xde, 0xdf]);
  }

  arrayHeader(n) {
    this.header(n, 0x90, 15, [null, 0xdc, 0xdd]);
  }

  /** Any JSON-like value: null, boolean, number, bigint, string, Uint8Array, array, object. */
  value(v) {
    if (v === null || v === undefined) this.byte(0xc0);
    else if (v === true) this.byte(0xc3);
    else if (v === false) this.byte(0xc2);
    else if (typeof v === 'bigint') this.uint(v);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) this.int(v);
      else {
        this._room(9);
        this.scratch[this.used] = 0xcb;
        this.scratch.writeDoubleBE(v, this.used + 1);
        this.used += 9;
      }
    } else if (typeof v === 'string') this.str(v);
    else if (v instanceof Uint8Array) this.bin(v);
    else if (Array.isArray(v)) {
      this.arrayHeader(v.length);
      for (const item of v) this.value(item);
    } else if (typeof v === 'object') {
      const entries = Object.entries(v).filter(([, item]) => item !== undefined);
      this.mapHeader(entries.length);
      for (const [key, item] of entries) {
        this.str(key);
        this.value(item);
      }
    } else {
      throw new TypeError(`cannot encode a ${typeof v} as MessagePack`);
    }
  }

  /** The bytes written so far, as one Buffer. */
  finish() {
    this._flush();
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  }
}

/** MessagePack bytes of a JSON-like value (for the nested maps of `ipc.*` messages). */
function encodeValue(value) {
  const writer = new Writer();
  writer.value(value);
  return writer.finish();
}

function checkOutgoing(message) {
  if (!MESSAGE_TYPES.has(message.type)) {
    throw fastmdError('UNKNOWN_TYPE', `cannot encode a message of type '${message.type}'`);
  }
  if (message.type !== 'response') {
    const bytes = Buffer.byteLength(message.method ?? '');
    if (bytes === 0 || bytes > MAX_METHOD_BYTES) {
      throw fastmdError('INVALID_FIELD', `a method name must be 1 to ${MAX_METHOD_BYTES} bytes`);
    }
  }
}

/**
 * Encodes a message as one frame, split so the payload is never copied: returns
 * {prefix, payload} where `prefix` (length prefix and every key before the payload's bytes)
 * and then `payload` are written back to back (e.g. with socket.cork/uncork or writev).
 */
function encodeFrameParts(message) {
  checkOutgoing(message);
  const payload = message.payload ?? EMPTY;
  const hasId = message.type !== 'notification';
  const hasMethod = message.type !== 'response';
  const writer = new Writer();
  writer.raw(Buffer.alloc(FRAME_HEADER_BYTES));
  writer.mapHeader(2 + hasId + hasMethod + Boolean(message.error) + Boolean(message.shm) +
    Boolean(message.fds) + (payload.length > 0));
  writer.str('version');
  writer.uint(message.version ?? PROTOCOL_VERSION);
  writer.str('type');
  writer.str(message.type);
  if (hasId) {
    writer.str('id');
    writer.uint(message.id);
  }
  if (hasMethod) {
    writer.str('method');
    writer.str(message.method);
  }
  if (message.error) {
    writer.str('error');
    writer.mapHeader(2);
    writer.str('code');
    writer.uint(message.error.code);
    writer.str('message');
    writer.str(message.error.message ?? '');
  }
  if (message.shm) {
    writer.str('shm');
    writer.mapHeader(4);
    for (const key of ['segment', 'offset', 'length', 'generation']) {
      writer.str(key);
      writer.uint(message.shm[key]);
    }
  }
  if (message.fds) {
    writer.str('fds');
    writer.uint(message.fds);
  }
  if (payload.length > 0) {
    writer.str(message.type === 'response' ? 'result' : 'params');
    writer.binHeader(payload.length);
  }
  const prefix = writer.finish();
  const body = prefix.length - FRAME_HEADER_BYTES + payload.length;
  if (body > 0xffffffff) throw fastmdError('PAYLOAD_TOO_LARGE', 'a frame body must fit a 4-byte length');
  prefix.writeUInt32LE(body, 0);
  return { prefix, payload };
}

/** Encodes a message as one frame in one Buffer (length prefix, body, payload). */
function encodeFrame(message) {
  const { prefix, payload } = encodeFrameParts(message);
  return payload.length === 0 ? prefix : Buffer.concat([prefix, payload]);
}

const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------------------------------
// MessagePack decoding under limits

/** A decoded MessagePack float: kept apart from integers so field type checks stay exact. */
class MsgpackFloat {
  constructor(value) {
    this.value = value;
  }
}

/** A decoded MessagePack map: its string-keyed pairs, in order; other keys are skipped. */
class MsgpackMap extends Map {}

class Reader {
  constructor(bytes, limits) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.limits = limits;
  }

  need(n) {
    if (this.pos + n > this.bytes.length) {
      throw fastmdError('MALFORMED', 'truncated MessagePack value');
    }
  }

  u8() {
    this.need(1);
    return this.bytes[this.pos++];
  }

  u16() {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32() {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64() {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  i64() {
    this.need(8);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  // The bytes of a str/bin/ext body: truncation first, then the limit (as msgpack-c does).
  body(n, limit, what) {
    this.need(n);
    if (n > limit) {
      throw fastmdError('LIMIT_EXCEEDED', `unpack limit exceeded: ${what} of ${n} bytes (at most ${limit})`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  str(n) {
    const raw = this.body(n, this.limits.str, 'str');
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  }

  ext(n) {
    this.u8(); // the ext type
    this.body(n, this.limits.ext, 'ext');
    throw fastmdError('LIMIT_EXCEEDED', 'unpack limit exceeded: ext values are never valid');
  }

  container(n, limit, what, depth) {
    if (n > limit) {
      throw fastmdError('LIMIT_EXCEEDED', `unpack limit exceeded: ${what} of ${n} entries (at most ${limit})`);
    }
    if (depth >= this.limits.depth) {
      throw fastmdError('LIMIT_EXCEEDED', `unpack limit exceeded: nesting deeper than ${this.limits.depth}`);
    }
  }

  array(n, depth) {
    this.container(n, this.limits.array, 'array', depth);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  map(n, depth) {
    this.container(n, this.limits.map, 'map', depth);
    const out = new MsgpackMap();
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      const value = this.value(depth + 1);
      if (typeof key === 'string') out.set(key, value);
    }
    return out;
  }

  /** One value; `depth` counts the containers around it. */
  value(depth) {
    const b = this.u8();
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b <= 0x8f) return this.map(b & 0x0f, depth);
    if (b <= 0x9f) return this.array(b & 0x0f, depth);
    if (b <= 0xbf) return this.str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.body(this.u8(), this.limits.bin, 'bin');
      case 0xc5: return this.body(this.u16(), this.limits.bin, 'bin');
      case 0xc6: return this.body(this.u32(), this.limits.bin, 'bin');
      case 0xc7: return this.ext(this.u8());
      case 0xc8: return this.ext(this.u16());
      case 0xc9: return this.ext(this.u32());
      case 0xca: this.need(4); this.pos += 4; return new MsgpackFloat(this.view.getFloat32(this.pos - 4));
      case 0xcb: this.need(8); this.pos += 8; return new MsgpackFloat(this.view.getFloat64(this.pos - 8));
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xcf: return this.u64();
      case 0xd0: this.need(1); return this.view.getInt8(this.pos++);
      case 0xd1: this.need(2); this.pos += 2; return this.view.getInt16(this.pos - 2);
      case 0xd2: this.need(4); this.pos += 4; return this.view.getInt32(this.pos - 4);
      case 0xd3: return this.i64();
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.str(this.u8());
      case 0xda: return this.str(this.u16());
      case 0xdb: return this.str(this.u32());
      case 0xdc: return this.array(this.u16(), depth);
      case 0xdd: return this.array(this.u32(), depth);
      case 0xde: return this.map(this.u16(), depth);
      case 0xdf: return this.map(this.u32(), depth);
      default: throw fastmdError('MALFORMED', `invalid MessagePack: reserved byte 0x${b.toString(16)}`);
    }
  }
}

/**
 * Decodes exactly one MessagePack value under `limits` (decodeLimits()). Maps decode to
 * MsgpackMap (string keys only), bins to Uint8Array views of `bytes`, floats to MsgpackFloat.
 */
function decodeValue(bytes, limits = decodeLimits()) {
  const reader = new Reader(bytes, limits);
  const value = reader.value(0);
  if (reader.pos !== bytes.length) {
    throw fastmdError('TRAILING_BYTES', `${bytes.length - reader.pos} bytes follow the MessagePack value`);
  }
  return value;
}

function isUint(value) {
  return typeof value === 'bigint' || (typeof value === 'number' && value >= 0);
}

function wrongType(field, expected) {
  return fastmdError('WRONG_FIELD_TYPE', `'${field}' must be ${expected}`);
}

/** An unsigned integer field that must not exceed `max` (a number or a BigInt). */
function readUint(value, field, max) {
  if (!isUint(value)) throw wrongType(field, 'an unsigned integer');
  if (value > max) throw fastmdError('INVALID_FIELD', `'${field}' is out of range`);
  return value;
}

function readStr(value, field) {
  if (typeof value !== 'string') throw wrongType(field, 'a string');
  return value;
}

function readMap(value, field) {
  if (!(value instanceof MsgpackMap)) throw fastmdError('NOT_A_MAP', `${field} must be a MessagePack map`);
  return value;
}

const U16 = 0xffff;
const U32 = 0xffffffff;
const U64 = 0xffffffffffffffffn;

function decodeError(value) {
  const map = readMap(value, "'error'");
  if (!map.has('code')) throw fastmdError('MISSING_FIELD', "'error.code' is required");
  return {
    code: readUint(map.get('code'), 'error.code', U16),
    message: map.has('message') ? readStr(map.get('message'), 'error.message') : '',
  };
}

function decodeShm(value) {
  const map = readMap(value, "'shm'");
  const fields = [['segment', U32], ['offset', U64], ['length', U64], ['generation', U32]];
  if (!fields.every(([key]) => map.has(key))) {
    throw fastmdError('MISSING_FIELD', "'shm' needs 'segment', 'offset', 'length' and 'generation'");
  }
  const handle = {};
  for (const [key, max] of fields) handle[key] = readUint(map.get(key), `shm.${key}`, max);
  return handle;
}

/**
 * Checks the fields of a decoded message object (from MessagePack or NDJSON) and returns
 * the message; the order of the checks is the C++ decoder's, so both report the same error.
 * `get(key)` returns the raw value or undefined; `payload` has already been read.
 */
function buildMessage(get, payload, hasPayload) {
  const version = get('version');
  const type = get('type');
  const id = get('id');
  const method = get('method');
  const message = { version: PROTOCOL_VERSION, type: 'request', id: 0, method: '', error: null, shm: null, fds: 0, payload };
  if (version !== undefined) message.version = readUint(version, 'version', U32);
  if (type !== undefined) message.type = readStr(type, 'type');
  if (id !== undefined) message.id = readUint(id, 'id', U64);
  if (method !== undefined) message.method = readStr(method, 'method');
  if (get('error') !== undefined) message.error = decodeError(get('error'));
  if (get('shm') !== undefined) message.shm = decodeShm(get('shm'));
  if (get('fds') !== undefined) {
    message.fds = readUint(get('fds'), 'fds', U32);
    if (message.fds > MAX_FDS_PER_FRAME) throw fastmdError('INVALID_FIELD', `'fds' exceeds ${MAX_FDS_PER_FRAME}`);
  }
  if (version === undefined) throw fastmdError('MISSING_FIELD', "'version' is required");
  if (message.version !== PROTOCOL_VERSION) {
    throw fastmdError('VERSION_MISMATCH', `protocol version ${message.version} is not supported; ` +
      `this side speaks version ${PROTOCOL_VERSION}`);
  }
  if (type === undefined) throw fastmdError('MISSING_FIELD', "'type' is required");
  if (!MESSAGE_TYPES.has(message.type)) throw fastmdError('UNKNOWN_TYPE', `unknown message type '${message.type}'`);
  if (message.type !== 'notification' && id === undefined) {
    throw fastmdError('MISSING_FIELD', `'id' is required in a ${message.type}`);
  }
  if (message.type !== 'response') {
    if (message.method === '') throw fastmdError('MISSING_FIELD', `'method' is required in a ${message.type}`);
    if (Buffer.byteLength(message.method) > MAX_METHOD_BYTES) {
      throw fastmdError('INVALID_FIELD', `'method' is longer than ${MAX_METHOD_BYTES} bytes`);
    }
  }
  if (hasPayload && message.shm) {
    throw fastmdError('INVALID_FIELD', "a message carries either an inline payload or 'shm'");
  }
  if (message.error && (hasPayload || message.shm)) {
    throw fastmdError('INVALID_FIELD', 'a failed response carries no result');
  }
  return message;
}

/** Decodes a frame body (no length prefix) into a message whose payload views `body`. */
function decodeBody(body, limits = decodeLimits()) {
  if (body.length > limits.maxFrame) {
    throw fastmdError('FRAME_TOO_LARGE', `frame of ${body.length} bytes exceeds the maximum of ${limits.maxFrame}`);
  }
  const map = decodeValue(body, limits);
  if (!(map instanceof MsgpackMap)) throw fastmdError('NOT_A_MAP', 'a message must be a MessagePack map');
  let payload = EMPTY;
  let hasPayload = false;
  for (const key of ['params', 'result']) {
    if (!map.has(key)) continue;
    const value = map.get(key);
    if (!(value instanceof Uint8Array)) throw wrongType(key, 'binary (bin)');
    payload = value;
    hasPayload = true;
  }
  return buildMessage((key) => map.get(key), payload, hasPayload);
}

/** Checks a frame's length prefix against `maxFrame` before anything is read or allocated. */
function checkFrameLength(length, maxFrame) {
  if (length === 0) throw fastmdError('FRAME_EMPTY', 'frame length prefix is zero');
  if (length > maxFrame) {
    throw fastmdError('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the maximum of ${maxFrame}`);
  }
  return length;
}

/** Decodes one whole frame held in memory (length prefix and body). */
function decodeFrame(frame, limits = decodeLimits()) {
  if (frame.length < FRAME_HEADER_BYTES) {
    throw fastmdError('MALFORMED', 'frame shorter than its 4-byte length prefix');
  }
  const length = checkFrameLength(
    (frame[0] | (frame[1] << 8) | (frame[2] << 16)) + frame[3] * 0x1000000, limits.maxFrame);
  if (frame.length - FRAME_HEADER_BYTES !== length) {
    throw fastmdError('MALFORMED', `frame length prefix says ${length} bytes but ${frame.length - FRAME_HEADER_BYTES} follow`);
  }
  return decodeBody(frame.subarray(FRAME_HEADER_BYTES), limits);
}

// ---------------------------------------------------------------------------------------
// NDJSON lines (PROTOCOL.md §8)

/**
 * The JSON line (with its '\n') of a message whose payload is a string (sent as `params` /
 * `result`) or bytes (sent as a string when valid UTF-8, else as `params_base64` /
 * `result_base64`).
 */
function encodeLine(message) {
  checkOutgoing(message);
  const out = { version: message.version ?? PROTOCOL_VERSION, type: message.type };
  if (message.type !== 'notification') out.id = message.id;
  if (message.type !== 'response') out.method = message.method;
  if (message.error) out.error = { code: message.error.code, message: message.error.message ?? '' };
  const key = message.type === 'response' ? 'result' : 'params';
  const payload = message.payload;
  if (typeof payload === 'string') {
    if (payload.length > 0) out[key] = payload;
  } else if (payload && payload.length > 0) {
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (isUtf8(bytes)) out[key] = bytes.toString('utf8');
    else out[`${key}_base64`] = bytes.toString('base64');
  }
  return `${JSON.stringify(out)}\n`;
}

const PAYLOAD_KEYS = new Set(['params', 'result', 'params_base64', 'result_base64']);

/**
 * Standard base64 to bytes, or null when the text is not exactly that. Node's decoder skips
 * characters outside the alphabet and stops at padding, so text with either decodes to fewer
 * bytes than its length promises (a regular expression would be far slower on megabytes).
 */
function decodeStrictBase64(text) {
  if (text.length % 4 !== 0) return null;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === (text.length / 4) * 3 - padding ? bytes : null;
}

// The unpack limits of PROTOCOL.md §1 applied to a parsed line, payloads excepted (they are
// bounded by the line's length).
function checkJsonLimits(value, limits, depth) {
  if (typeof value === 'string') {
    if (value.length > limits.str / 3 && Buffer.byteLength(value) > limits.str) {
      throw fastmdError('LIMIT_EXCEEDED', `unpack limit exceeded: a string of more than ${limits.str} bytes`);
    }
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= limits.depth) {
    throw fastmdError('LIMIT_EXCEEDED', `unpack limit exceeded: nesting deeper than ${limits.depth}`);
  }
  if (Array.isArray(value)) {
    if (value.length > limits.array) {
      throw fastmdError('LIMIT_EXCEEDED', `unpack limit exceeded: an array of more than ${limits.array} elements`);
    }
    for (const item of value) checkJsonLimits(item, limits, depth + 1);
    return;
  }
  const keys = Object.keys(value);
  if (keys.length > limits.map) {
    throw fastmdError('LIMIT_EXCEEDED', `unpack limit exceeded: an object of more than ${limits.map} keys`);
  }
  for (const key of keys) {
    checkJsonLimits(key, limits, depth + 1);
    if (depth === 0 && PAYLOAD_KEYS.has(key)) continue;
    checkJsonLimits(value[key], limits, depth + 1);
  }
}

// The source text of the number that is the value of top-level `key` in a JSON object line
// (JSON.parse rounds integers above 2^53; ids go up to 2^64 - 1). Only called for such ids.
function topLevelNumberText(text, key) {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (depth === 1 && text.slice(i + 1, end) === key) {
        const match = /^\s*:\s*(-?\d+)/.exec(text.slice(end + 1, end + 64));
        if (match) return match[1];
      }
      i = end;
    } else if (ch === '{' || ch === '[') {
      depth++;
    } else if (ch === '}' || ch === ']') {
      depth--;
    }
  }
  return null;
}

/**
 * Decodes one NDJSON line (a string or UTF-8 bytes, without its '\n') under the unpack limits.
 * The payload is returned as it came: a string for `params`/`result`, a Buffer for the
 * `_base64` forms.
 */
function decodeLine(line, limits = decodeLimits()) {
  let text = line;
  if (typeof line !== 'string') {
    const bytes = Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength);
    if (!isUtf8(bytes)) throw fastmdError('MALFORMED', 'the line is not valid UTF-8');
    text = bytes.toString('utf8');
  }
  if (text.length === 0) throw fastmdError('FRAME_EMPTY', 'an empty line');
  let object;
  try {
    object = JSON.parse(text);
  } catch (error) {
    // V8 says "... after JSON at position N" when a whole value is followed by more.
    if (/after JSON/.test(error.message)) throw fastmdError('TRAILING_BYTES', `the line holds more than one JSON value: ${error.message}`);
    throw fastmdError('MALFORMED', `invalid JSON line: ${error.message}`);
  }
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    throw fastmdError('NOT_A_MAP', 'an NDJSON message must be a JSON object');
  }
  checkJsonLimits(object, limits, 0);
  if (object.shm !== undefined || object.fds !== undefined) {
    throw fastmdError('INVALID_FIELD', "'shm' and 'fds' never appear on the legacy channel");
  }
  let payload = '';
  let hasPayload = false;
  for (const key of ['params', 'result']) {
    const base64 = object[`${key}_base64`];
    if (object[key] !== undefined && base64 !== undefined) {
      throw fastmdError('INVALID_FIELD', `a message carries '${key}' or '${key}_base64', not both`);
    }
    if (object[key] !== undefined) {
      if (typeof object[key] !== 'string') throw wrongType(key, 'a string');
      payload = object[key];
      hasPayload = true;
    } else if (base64 !== undefined) {
      if (typeof base64 !== 'string') throw wrongType(`${key}_base64`, 'a base64 string');
      payload = decodeStrictBase64(base64);
      if (payload === null) throw fastmdError('INVALID_FIELD', `'${key}_base64' is not valid base64`);
      hasPayload = true;
    }
  }
  const get = (key) => {
    const value = object[key];
    if (key === 'id' && typeof value === 'number' && value > Number.MAX_SAFE_INTEGER) {
      const exact = BigInt(topLevelNumberText(text, 'id') ?? value);
      if (exact > U64) throw wrongType('id', 'an unsigned 64-bit integer');
      return exact;
    }
    return fromJson(value);
  };
  return buildMessage(get, payload, hasPayload);
}

// A parsed JSON value in the decoded MessagePack model, so one set of field checks serves
// both: objects become MsgpackMap, non-integral numbers MsgpackFloat.
function fromJson(value) {
  if (typeof value === 'number' && !Number.isInteger(value)) return new MsgpackFloat(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(fromJson);
  return new MsgpackMap(Object.entries(value).map(([key, item]) => [key, fromJson(item)]));
}

module.exports = {
  PROTOCOL_VERSION,
  FRAME_HEADER_BYTES,
  DEFAULT_MAX_CONTROL_FRAME,
  DEFAULT_MAX_DATA_FRAME,
  decodeLimits,
  encodeValue,
  encodeFrame,
  encodeFrameParts,
  decodeValue,
  decodeBody,
  decodeFrame,
  checkFrameLength,
  encodeLine,
  decodeLine,
  MsgpackMap,
  MsgpackFloat,
};
