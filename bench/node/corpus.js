'use strict';
// bench/node/corpus.js — the Markdown corpus of the end-to-end job, as scripts/demo-job
// gathers it: the CommonMark spec text and every Markdown file of the installed npm packages.

const fs = require('node:fs');
const path = require('node:path');

function markdownFiles(dir, out) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) markdownFiles(full, out);
    else if (entry.isFile() && /\.(md|markdown)$/i.test(entry.name)) out.push(full);
  }
  return out;
}

/** { files: [{path, text}], bytes } — the spec first, then the packages' files in path order. */
function gatherCorpus(root) {
  const spec = path.join(root, 'sdk-node', 'node_modules', 'commonmark-spec', 'spec.txt');
  const paths = [spec];
  for (const dir of [path.join(root, 'sdk-node', 'node_modules'), '/usr/lib/node_modules']) {
    paths.push(...markdownFiles(dir, []).sort());
  }
  const files = paths.map((p) => ({ path: p, text: fs.readFileSync(p, 'utf8') }));
  return { files, bytes: files.reduce((sum, f) => sum + Buffer.byteLength(f.text), 0) };
}

module.exports = { gatherCorpus };
