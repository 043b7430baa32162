'use strict';
// bench/node/units.js — a payload size as a reader writes it: whole MiB or KiB, else bytes.

function size(bytes) {
  if (bytes === undefined) return '';
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

module.exports = { size };
