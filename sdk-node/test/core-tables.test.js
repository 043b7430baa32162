'use strict';
// The error codes and the call policy JS uses come from the C++ core, never from a copy:
// lib/errno.json and lib/policy.json are what scripts/generate-core-tables.js makes of the
// headers today, and the addon, compiled from the same headers, exports the same numbers.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { describe, it } = require('node:test');

const { loadAddon } = require('../lib/fast/addon');
const { TABLES } = require('../scripts/generate-core-tables');

const [errnoTable, policyTable] = TABLES;
const generated = (table) => table.parse(fs.readFileSync(table.header, 'utf8'));
const shipped = (table) => JSON.parse(fs.readFileSync(table.file, 'utf8'));

describe('error codes and call policy from the C++ core', () => {
  for (const table of TABLES) {
    it(`${table.file.split('/').slice(-2).join('/')} is generated from its header as it is now`, () => {
      assert.deepEqual(shipped(table), generated(table),
        'run `node scripts/generate-core-tables.js` after changing the header');
    });
  }

  it('the addon reports the same error codes as lib/errno.json', () => {
    assert.deepEqual({ ...loadAddon().errno }, shipped(errnoTable));
  });

  it('the addon exports the same call policy as lib/policy.json, frozen', () => {
    const { policy } = loadAddon();
    assert.ok(Object.isFrozen(policy));
    assert.deepEqual({ ...policy }, shipped(policyTable));
  });
});
