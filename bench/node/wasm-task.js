'use strict';
// bench/node/wasm-task.js — md4c compiled to WebAssembly (`markdown-wasm`) as one render
// function, with md4c's GitHub dialect (MD_DIALECT_GITHUB, what fastmd-worker-md renders with)
// instead of markdown-wasm's default flags. Exports a promise of that function: alternatives.js
// awaits it in process, and piscina awaits it in each thread before the thread takes tasks.

const markdownWasm = require('markdown-wasm');

const { ParseFlags } = markdownWasm;
// md4c.h: MD_DIALECT_GITHUB = MD_FLAG_PERMISSIVEAUTOLINKS | MD_FLAG_TABLES |
// MD_FLAG_STRIKETHROUGH | MD_FLAG_TASKLISTS, the autolinks being URL, e-mail and www.
const DIALECT_GITHUB = ParseFlags.PERMISSIVE_URL_AUTO_LINKS | ParseFlags.PERMISSIVE_EMAIL_AUTO_LINKS |
  ParseFlags.PERMISSIVE_WWW_AUTOLINKS | ParseFlags.TABLES | ParseFlags.STRIKETHROUGH | ParseFlags.TASK_LISTS;

module.exports = markdownWasm.ready.then(() => (text) => markdownWasm.parse(text, { parseFlags: DIALECT_GITHUB }));
