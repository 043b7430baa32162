'use strict';
// The MessagePack frames of proto/PROTOCOL.md §1–2 in JavaScript, for tests only: they check
// the vectors in a second language and let hostile-peer tests forge frames byte by byte. The
// shipped package never encodes or decodes frames in JS (the addon's C++ core does). A frame
// is a 4-byte little-endian length, then one map with its keys in the table's order and the
// payload last. Decoding is strict as the C++ codec (fastmd/proto/codec.hpp) is: the length is
// checked before anything is read, every value runs under the unpack limits, and the fields
// are checked by the same buildMessage as NDJSON lines (lib/ndjson.js).

const { fastmdError } = require('../../lib/errors');
const {
  PROTOCOL_VERSION, decodeLimits, checkOutgoing, buildMessage, wrongType, MsgpackMap, MsgpackFloat,
} = require('../../lib/ndjson');

const FRAME_HEADER_BYTES = 4;
// A data channel's default max_frame (PROTOCOL.md §1, fastmd/proto/limits.hpp), for vectors.
const DEFAULT_MAX_DATA_FRAME = 64 * 1024 * 1024 + 64 * 1024;

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

module.exports = {
  FRAME_HEADER_BYTES,
  DEFAULT_MAX_DATA_FRAME,
  encodeValue,
  encodeFrame,
  encodeFrameParts,
  decodeValue,
  decodeBody,
  decodeFrame,
  checkFrameLength,
};
