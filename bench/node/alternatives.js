'use strict';
// bench/node/alternatives.js — what a Node user would pick instead of the fast path, on the
// same Markdown corpus and measured the same way (corpusSeries): `marked` and md4c compiled to
// WebAssembly (`markdown-wasm`) in process on the event loop's thread, and a piscina pool of
// N worker threads each running markdown-wasm (N = 1…--max-workers, by default the machine's
// cores). The CPU of every row is this process's, worker threads included.
// Prints one JSON row per line on stdout (the shape of bench/results/latest.json); progress on
// stderr.
//
//   node bench/node/alternatives.js [--quick] [--max-workers N]

const path = require('node:path');

const { marked } = require('marked');
const { Piscina } = require('piscina');

const { progress } = require('./report');
const { gatherCorpus, corpusSeries } = require('./corpus');
const { parseStepArgs } = require('./step-args');

const ROOT = path.resolve(__dirname, '..', '..');
const WASM_TASK = path.join(__dirname, 'wasm-task.js');

async function main() {
  const { quick, maxWorkers } = parseStepArgs(process.argv.slice(2), __filename, {
    about: 'What a Node user would pick instead, on the Markdown corpus: marked and markdown-wasm in\n' +
      'process, piscina with 1..N threads x markdown-wasm (one JSON row per line on stdout).',
    takes: ['quick', 'maxWorkers'],
  });
  const corpus = gatherCorpus(ROOT);
  const rounds = quick ? 1 : 5;

  progress('node marked: Markdown corpus in process');
  await corpusSeries(async (text) => marked.parse(text), 'marked', [], corpus, rounds, 0);

  progress('node markdown-wasm: Markdown corpus in process');
  const renderWasm = await require(WASM_TASK);
  await corpusSeries(async (text) => renderWasm(text), 'markdown-wasm', [], corpus, rounds, 0,
    'md4c as WebAssembly on the event loop\'s thread; ');

  for (let threads = 1; threads <= maxWorkers; threads++) {
    progress(`node piscina × markdown-wasm: Markdown corpus, ${threads} thread(s)`);
    const pool = new Piscina({ filename: WASM_TASK, minThreads: threads, maxThreads: threads });
    try {
      await corpusSeries((text) => pool.run(text), 'piscina-wasm', [], corpus, rounds, threads,
        `piscina ${threads} thread(s) × markdown-wasm; `);
    } finally {
      await pool.destroy();
    }
  }
}

if (require.main === module) {
  main().catch((error) => {
    progress(`bench/node/alternatives.js: ${error.stack ?? error}`);
    process.exit(1);
  });
}
