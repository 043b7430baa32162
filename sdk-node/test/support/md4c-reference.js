'use strict';
// md4c's in-process output for a list of documents: compiles test/support/md4c-reference.c
// (the reference worker's md_html call) into a temporary directory and runs it once.

const { execFileSync } = require('node:child_process');
const path = require('node:path');

/** HTML strings rendered in-process by md4c for `documents` (strings); `dir` is scratch space. */
function renderInProcess(documents, dir) {
  const exe = path.join(dir, 'md4c-reference');
  execFileSync('cc', ['-O2', '-o', exe, path.join(__dirname, 'md4c-reference.c'), '-lmd4c-html', '-lmd4c'],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60000 });
  const records = documents.flatMap((doc) => {
    const bytes = Buffer.from(doc, 'utf8');
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(bytes.length);
    return [prefix, bytes];
  });
  const output = execFileSync(exe, { input: Buffer.concat(records), timeout: 60000, maxBuffer: 1 << 30 });
  const html = [];
  for (let at = 0; at < output.length;) {
    const length = output.readUInt32LE(at);
    html.push(output.toString('utf8', at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (html.length !== documents.length) throw new Error(`md4c-reference rendered ${html.length} of ${documents.length} documents`);
  return html;
}

module.exports = { renderInProcess };
