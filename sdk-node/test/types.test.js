'use strict';
// The hand-written lib/index.d.ts against test/types/usage.ts, compiled with tsc --strict:
// the API as the docs use it type-checks, and misuse marked @ts-expect-error is rejected.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { it } = require('node:test');

it('lib/index.d.ts types the documented API (tsc --strict)', async () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const project = path.join(__dirname, 'types', 'tsconfig.json');
  const output = await new Promise((resolve) => {
    execFile(process.execPath, [tsc, '-p', project], { timeout: 120000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code ?? 'killed' : 0, text: stdout + stderr });
    });
  });
  assert.equal(output.code, 0, output.text);
});
