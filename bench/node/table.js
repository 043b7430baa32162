'use strict';
// bench/node/table.js — latest.md: the machine, every row as a Markdown table, the goals of
// issues 7, 13 and 15 with their measured ratios, and what the posix layer costs (issue 14).

const { GOAL_SETS, fmt } = require('./goals');
const { renderPlatformCost } = require('./platform-cost');
const { size } = require('./units');

const COLUMNS = [
  ['client', (r) => (r.platform ? `${r.client} (${r.platform})` : r.client)],
  ['transport', (r) => r.transport],
  ['method', (r) => [r.method, r.payload_kind === 'buffer' ? '(Buffer)' : '', r.workers ? `×${r.workers}` : ''].filter(Boolean).join(' ')],
  ['payload', (r) => size(r.payload_bytes)],
  ['p50 µs', (r) => fmt(r.p50_us)],
  ['p99 µs', (r) => fmt(r.p99_us)],
  ['p99.9 µs', (r) => fmt(r.p999_us)],
  ['msgs/s', (r) => fmt(r.msgs_per_s)],
  ['GB/s', (r) => fmt(r.gb_per_s)],
  ['files/s', (r) => fmt(r.files_per_s)],
  ['CPU µs/req (client+worker)', (r) => (r.cpu_us_per_req === undefined ? '' : `${fmt(r.cpu_us_per_req)} (${fmt(r.client_cpu_us_per_req)}+${fmt(r.worker_cpu_us_per_req)})`)],
  ['minflt/req', (r) => fmt(r.minflt_per_req)],
  ['µs/fault', (r) => fmt(r.us_per_fault)],
  ['other', (r) => [r.daemon_rss_kib !== undefined ? `RSS ${fmt(r.daemon_rss_kib)} KiB, ${r.sessions} sessions` : '', r.note ?? ''].filter(Boolean).join('; ')],
];

function renderMarkdown({ machine, rows }) {
  const m = machine;
  const lines = [
    `# fastmd-ipc benchmark results (${m.mode} run)`,
    '',
    `${m.date} · ${m.cpus} × ${m.cpu_model} · ${m.memory_gib} GiB · ${m.kernel} · Node ${m.node} · commit ${m.commit} · load ${m.load_average_1m.toFixed(2)}`,
    '',
  ];
  if (m.failures) lines.push(`**Steps that failed:** ${m.failures.join('; ')}`, '');
  lines.push(`| ${COLUMNS.map(([name]) => name).join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`);
  for (const row of rows) lines.push(`| ${COLUMNS.map(([, cell]) => cell(row)).join(' | ')} |`);
  for (const { title, evaluate } of GOAL_SETS) {
    lines.push('', `## ${title}`, '', '| goal | measured | target | met |', '|---|---|---|---|');
    // The goals are the primary build's; rows of another platform layer are compared below.
    for (const g of evaluate(rows.filter((row) => !row.platform))) {
      const verdict = g.met === null ? 'no data' : g.met ? 'met' : '**missed**';
      lines.push(`| ${g.name} | ${g.measured === null ? '—' : fmt(g.measured)} (${g.detail}) | ${g.target} | ${verdict} |`);
    }
  }
  lines.push(...renderPlatformCost(rows));
  return `${lines.join('\n')}\n`;
}

module.exports = { renderMarkdown };
