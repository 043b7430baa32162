'use strict';
// bench/node/platform-cost.js — what the portable POSIX platform layer costs beside the Linux
// one, from one run: each row bench/run measured with the posix build (tagged platform:
// 'posix') next to the same row of the primary build, as a ratio. Latency rows compare p50
// (posix ÷ linux, above 1 is slower); throughput rows (no p50) compare msgs/s (posix ÷ linux,
// below 1 is slower). Rows that touch no platform code (legacy NDJSON) show the run's noise.

const { fmt } = require('./goals');
const { size } = require('./units');

/** What makes two rows the same measurement, but for the platform. */
const SAME = ['client', 'transport', 'method', 'payload_bytes', 'payload_kind', 'note', 'workers'];

function label(row) {
  const kind = row.payload_kind === 'buffer' ? ' (Buffer)' : '';
  const what = row.p50_us === undefined ? `${row.note ?? 'throughput'}` : 'one call at a time';
  return `${row.client} ${row.transport} ${row.method} ${size(row.payload_bytes)}${kind}, ${what}`;
}

/**
 * [{label, field, linux, posix, ratio, cpu: [linux, posix]}] for every posix row that has a
 * primary twin, in the posix rows' order; empty when the run has no posix rows.
 */
function comparePlatforms(rows) {
  const primary = rows.filter((row) => !row.platform);
  const out = [];
  for (const posix of rows.filter((row) => row.platform === 'posix')) {
    const linux = primary.find((row) => SAME.every((key) => row[key] === posix[key]));
    const field = posix.p50_us !== undefined ? 'p50_us' : 'msgs_per_s';
    if (!linux || !linux[field] || !posix[field]) continue;
    out.push({ label: label(posix), field, linux: linux[field], posix: posix[field],
      ratio: posix[field] / linux[field], cpu: [linux.cpu_us_per_req, posix.cpu_us_per_req] });
  }
  return out;
}

/** The comparison as Markdown lines for latest.md (none without posix rows). */
function renderPlatformCost(rows) {
  const compared = comparePlatforms(rows);
  if (!compared.length) return [];
  const lines = ['', '## The portable POSIX layer beside the Linux one (issue 14)', '',
    'The same rows measured with the posix build (`--posix-bin-dir`, a posix addon for Node) in this run. p50 rows: ' +
      'posix ÷ linux above 1 is slower; msgs/s rows: below 1 is slower. Legacy rows use no ' +
      'platform code, so their ratio is the run\'s noise.', '',
    '| row | measure | linux | posix | posix ÷ linux | CPU µs/req linux → posix |', '|---|---|---|---|---|---|'];
  for (const c of compared) {
    const cpu = c.cpu[0] === undefined ? '' : `${fmt(c.cpu[0])} → ${fmt(c.cpu[1])}`;
    lines.push(`| ${c.label} | ${c.field === 'p50_us' ? 'p50 µs' : 'msgs/s'} | ${fmt(c.linux)} | ${fmt(c.posix)} | ` +
      `${c.ratio.toFixed(2)} | ${cpu} |`);
  }
  return lines;
}

module.exports = { comparePlatforms, renderPlatformCost };
