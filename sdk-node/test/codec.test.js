'use strict';
// The JS codecs (lib/ndjson.js, shipped; test/support/msgpack.js, tests only) against the protocol's test vectors (proto/vectors/), the same files the C++
// codec is checked against: every valid frame decodes to its message and re-encodes to the
// same bytes, every invalid one fails with the named error.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');

const ndjson = require('../lib/ndjson');
const msgpack = require('./support/msgpack');
const { FastmdError, ERRNO } = require('../lib/errors');

const vectorsDir = path.resolve(__dirname, '..', '..', 'proto', 'vectors');
const readVectors = (name) => JSON.parse(fs.readFileSync(path.join(vectorsDir, name), 'utf8'));

// A vector's message (wire keys, payloads as params_hex / result_hex) as the codec's message.
function fromVector(m) {
  const hex = m.params_hex ?? m.result_hex;
  return {
    version: m.version,
    type: m.type,
    id: m.id === undefined ? 0 : (Number.isSafeInteger(m.id) ? m.id : BigInt(m.id)),
    method: m.method ?? '',
    error: m.error ?? null,
    shm: m.shm ?? null,
    fds: m.fds ?? 0,
    payload: hex === undefined ? Buffer.alloc(0) : Buffer.from(hex, 'hex'),
  };
}

function plain(message) {
  return { ...message, payload: Buffer.from(message.payload).toString('hex') };
}

describe('MessagePack frames: proto/vectors/valid.json', () => {
  const valid = readVectors('valid.json');
  it('has vectors', () => assert.ok(valid.length >= 10));
  for (const vector of valid) {
    it(`decodes ${vector.name}`, () => {
      // The vectors' big id is written as a JSON number beyond 2^53: take it from the bytes' text.
      const expected = fromVector(vector.message);
      if (vector.name === 'request-big-id') expected.id = 0xffffffffffffffffn;
      const decoded = msgpack.decodeFrame(Buffer.from(vector.hex, 'hex'), ndjson.decodeLimits(msgpack.DEFAULT_MAX_DATA_FRAME));
      assert.deepEqual(plain(decoded), plain(expected));
    });
    if (vector.decode_only) continue;
    it(`encodes ${vector.name} byte for byte`, () => {
      const message = fromVector(vector.message);
      if (vector.name === 'request-big-id') message.id = 0xffffffffffffffffn;
      assert.equal(msgpack.encodeFrame(message).toString('hex'), vector.hex);
      const { prefix, payload } = msgpack.encodeFrameParts(message);
      assert.equal(Buffer.concat([prefix, payload]).toString('hex'), vector.hex);
    });
  }
});

describe('MessagePack frames: proto/vectors/invalid.json', () => {
  for (const vector of readVectors('invalid.json')) {
    it(`rejects ${vector.name} with ${vector.error}`, () => {
      assert.throws(() => msgpack.decodeFrame(Buffer.from(vector.hex, 'hex'), ndjson.decodeLimits(vector.max_frame)),
        (error) => error instanceof FastmdError && error.code === `FASTMD_${vector.error}` &&
          error.errno === ERRNO[vector.error]);
    });
  }
});

describe('nested control maps', () => {
  it('round-trips ipc.hello params through encodeValue/decodeValue', () => {
    const hello = { role: 'client', pid: 4242, name: 'node', wants: ['transform'], max_frame: 67174400, shm: true };
    const decoded = msgpack.decodeValue(msgpack.encodeValue(hello));
    assert.deepEqual(Object.fromEntries(decoded), hello);
  });
});

describe('NDJSON lines: proto/vectors/ndjson.json', () => {
  const vectors = readVectors('ndjson.json');
  it('has vectors', () => assert.ok(vectors.valid.length >= 10 && vectors.invalid.length >= 10));
  // The big id's exact value is in the line; JSON.parse of the vector file rounds it.
  const exactId = (vector) => (vector.name === 'request-big-id' ? 0xffffffffffffffffn : vector.message.id);
  for (const vector of vectors.valid) {
    it(`decodes ${vector.name}`, () => {
      const decoded = ndjson.decodeLine(Buffer.from(vector.line));
      const expected = fromVector({ ...vector.message, id: exactId(vector) });
      assert.deepEqual(plain({ ...decoded, payload: Buffer.from(decoded.payload) }), plain(expected));
    });
    if (vector.decode_only || vector.name === 'request-big-id') continue;
    it(`encodes ${vector.name} exactly`, () => {
      const message = fromVector(vector.message);
      assert.equal(ndjson.encodeLine(message), `${vector.line}\n`);
    });
  }
  for (const vector of vectors.invalid) {
    it(`rejects ${vector.name} with ${vector.error}`, () => {
      const line = vector.line_hex === undefined ? Buffer.from(vector.line) : Buffer.from(vector.line_hex, 'hex');
      assert.throws(() => ndjson.decodeLine(line), { code: `FASTMD_${vector.error}`, errno: ERRNO[vector.error] });
    });
  }
});

describe('NDJSON lines: PROTOCOL.md §8', () => {
  it('writes the examples of PROTOCOL.md §8 exactly', () => {
    assert.equal(ndjson.encodeLine({ type: 'request', id: 7, method: 'transform', payload: '# Hi\n' }),
      '{"version":1,"type":"request","id":7,"method":"transform","params":"# Hi\\n"}\n');
    assert.equal(ndjson.encodeLine({ type: 'response', id: 7, payload: '<h1>Hi</h1>\n' }),
      '{"version":1,"type":"response","id":7,"result":"<h1>Hi</h1>\\n"}\n');
    assert.equal(ndjson.encodeLine({ type: 'response', id: 8, error: { code: 300, message: "method 'x' is not served" } }),
      '{"version":1,"type":"response","id":8,"error":{"code":300,"message":"method \'x\' is not served"}}\n');
  });

  it('sends UTF-8 bytes as a string and other bytes as base64', () => {
    const text = ndjson.encodeLine({ type: 'request', id: 1, method: 'echo', payload: Buffer.from('héllo ✓') });
    assert.match(text, /"params":"héllo ✓"/);
    const binary = ndjson.encodeLine({ type: 'request', id: 2, method: 'echo', payload: Buffer.from([0xff, 0x00, 0xfe]) });
    assert.match(binary, /"params_base64":"/u);
    assert.deepEqual(ndjson.decodeLine(binary.trimEnd()).payload, Buffer.from([0xff, 0x00, 0xfe]));
    assert.ok(!text.slice(0, -1).includes('\n') && !binary.slice(0, -1).includes('\n'));
  });

  it('reads a response and its error', () => {
    const ok = ndjson.decodeLine('{"version":1,"type":"response","id":7,"result":"<p>x</p>\\n"}');
    assert.equal(ok.payload, '<p>x</p>\n');
    const failed = ndjson.decodeLine('{"version":1,"type":"response","id":8,"error":{"code":300,"message":"nope"}}');
    assert.deepEqual(failed.error, { code: 300, message: 'nope' });
  });

  for (const [name, line, code] of [
    ['broken JSON', '{"version":1,', 'MALFORMED'],
    ['an array', '[1,2]', 'NOT_A_MAP'],
    ['no version', '{"type":"response","id":1}', 'MISSING_FIELD'],
    ['version 2', '{"version":2,"type":"response","id":1}', 'VERSION_MISMATCH'],
    ['an unknown type', '{"version":1,"type":"query","id":1}', 'UNKNOWN_TYPE'],
    ['a string id', '{"version":1,"type":"response","id":"1"}', 'WRONG_FIELD_TYPE'],
    ['a fractional id', '{"version":1,"type":"response","id":1.5}', 'WRONG_FIELD_TYPE'],
    ['a result that is not a string', '{"version":1,"type":"response","id":1,"result":5}', 'WRONG_FIELD_TYPE'],
    ['a shm handle', '{"version":1,"type":"response","id":1,"shm":{}}', 'INVALID_FIELD'],
    ['an error and a result', '{"version":1,"type":"response","id":1,"result":"x","error":{"code":1}}', 'INVALID_FIELD'],
  ]) {
    it(`rejects ${name} with ${code}`, () => {
      assert.throws(() => ndjson.decodeLine(line), { code: `FASTMD_${code}`, errno: ERRNO[code] });
    });
  }
});
