'use strict';
// The legacy wire codec of proto/PROTOCOL.md §8 in JavaScript: NDJSON lines, one message a
// line. It is the one codec the shipped package runs in JS (the legacy path must work where
// the addon cannot be built); the fast path's frames are encoded and decoded by the C++ core
// through the addon. Decoding is strict in the same way as the C++ codec
// (fastmd/proto/ndjson.hpp): every value runs under the unpack limits, and each failure is a
// FastmdError with the protocol's code. Checked byte for byte against proto/vectors/
// (test/codec.test.js).
//
// A message here is {version, type, id, method, error, shm, fds, payload}: `payload` is a
// string (`params`/`result`) or a Buffer (the `_base64` forms); `id` is a number, or a BigInt
// above Number.MAX_SAFE_INTEGER.
//
// The message model and its field checks (buildMessage) are exported for the tests'
// MessagePack codec (test/support/msgpack.js), so both encodings are validated by one function.

const { isUtf8 } = require('node:buffer');
const { fastmdError } = require('./errors');

const PROTOCOL_VERSION = 1;
const MAX_METHOD_BYTES = 128;
const MAX_FDS_PER_FRAME = 4;
const DEFAULT_MAX_CONTROL_FRAME = 64 * 1024;

/** The unpack limits of PROTOCOL.md §1 for a channel whose frames are at most `maxFrame`. */
function decodeLimits(maxFrame = DEFAULT_MAX_CONTROL_FRAME) {
  return { maxFrame, depth: 6, array: 1024, map: 64, str: 64 * 1024, bin: maxFrame, ext: 0 };
}

const MESSAGE_TYPES = new Set(['request', 'response', 'notification']);

/** Throws unless `message` can be sent: a known type, and a method name of legal length. */
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

// ---------------------------------------------------------------------------------------
// The decoded value model and the message's field checks

/** A decoded MessagePack float: kept apart from integers so field type checks stay exact. */
class MsgpackFloat {
  constructor(value) {
    this.value = value;
  }
}

/** A decoded MessagePack map: its string-keyed pairs, in order; other keys are skipped. */
class MsgpackMap extends Map {}


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
  DEFAULT_MAX_CONTROL_FRAME,
  decodeLimits,
  encodeLine,
  decodeLine,
  checkOutgoing,
  buildMessage,
  wrongType,
  MsgpackMap,
  MsgpackFloat,
};
