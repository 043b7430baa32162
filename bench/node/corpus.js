'use strict';
// bench/node/corpus.js — the Markdown corpus of the end-to-end job, as scripts/demo-job
// gathers it (the CommonMark spec text and every Markdown file of the installed npm packages),
// and the one way every Node row renders it: all files in flight at once, after a warm-up round.

const fs = require('node:fs');
const path = require('node:path');

const { measure, costs, emit } = require('./report');

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

/**
 * Renders the corpus `rounds` times with `transform` (text → promise of HTML) and emits its row:
 * `transport` and `workers` name it (0: in process, on the event loop's thread), `pids` are the
 * worker processes whose CPU counts with this process's, `what` prefixes the row's note.
 */
async function corpusSeries(transform, transport, pids, corpus, rounds, workers, what = '') {
  // One whole round first: markdown-it's JIT needs it (its first round is ~5x slower), and the
  // workers' allocators and the shared memory are warm the same way.
  await Promise.all(corpus.files.map((f) => transform(f.text)));
  const m = await measure(pids, async () => {
    for (let round = 0; round < rounds; round++) {
      // Every file in flight at once, as a tool converting a tree would send them.
      const html = await Promise.all(corpus.files.map((f) => transform(f.text)));
      if (html.length !== corpus.files.length) throw new Error('a file went missing');
    }
  });
  const files = corpus.files.length * rounds;
  emit({ client: 'node', transport, method: 'transform', payload_bytes: corpus.bytes, workers,
    files_per_s: files / (m.totalNs / 1e9), mb_per_s: (corpus.bytes * rounds) / 1e6 / (m.totalNs / 1e9),
    gb_per_s: (corpus.bytes * rounds) / m.totalNs, iterations: files,
    note: `${what}Markdown corpus: ${corpus.files.length} files, ${corpus.bytes} bytes`, ...costs(m, files) });
}

module.exports = { gatherCorpus, corpusSeries };
