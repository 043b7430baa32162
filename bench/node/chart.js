'use strict';
// bench/node/chart.js — latest.svg, two panels and the goals. Above: p50 round-trip latency
// against payload size, one line per client and transport (echo, string payloads), both axes
// logarithmic, with the memcpy floor as a dashed reference and the ping-pong floors as points.
// Below: the Markdown corpus in files/s against workers (threads), one line per transport
// (the fast path, legacy, piscina × markdown-wasm, md4c in process from C++ dashed as the
// floor) and the in-process choices as points at one; under it every goal of issue 13 that
// this run measured, with its ratio and verdict. Plain SVG, no dependency.

const { evaluateRingGoals, fmt } = require('./goals');

const WIDTH = 960;
const HEIGHT = 600;
const PLOT = { left: 80, right: 700, top: 50, bottom: 530 };
const CORPUS = { left: 80, right: 700, top: HEIGHT + 50, bottom: HEIGHT + 430 };
const GOALS_TOP = CORPUS.bottom + 70;
const GOAL_LINE = 18;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#000000', '#aec7e8', '#98df8a', '#ff9896'];
const SIZE_TICKS = [[64, '64 B'], [1024, '1 KiB'], [65536, '64 KiB'], [1048576, '1 MiB'], [10485760, '10 MiB']];

function escapeXml(text) {
  return String(text).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]));
}

function seriesOf(rows) {
  const series = new Map();
  const add = (key, row, style) => {
    if (!series.has(key)) series.set(key, { key, points: [], style });
    series.get(key).points.push([row.payload_bytes, row.p50_us]);
  };
  for (const row of rows) {
    if (!row.p50_us || !row.payload_bytes) continue;
    if (row.method === 'echo' && row.payload_kind !== 'buffer') add(`${row.client} ${row.transport}`, row, 'line');
    else if (row.transport === 'floor-memcpy') add('floor: memcpy (mapped)', row, 'dashed');
    else if (row.transport === 'floor-socketpair' || row.transport === 'floor-shm-spin') add(`floor: ${row.transport.slice(6)} ping-pong`, row, 'point');
  }
  for (const s of series.values()) s.points.sort((a, b) => a[0] - b[0]);
  return [...series.values()];
}

/** The smallest of 1, 2, 5 × 10^k that is at least `raw`: a grid step a reader can add up. */
function niceStep(raw) {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].find((m) => m * magnitude >= raw) * magnitude;
}

/** Corpus rows as series over workers: lines for pools and floors, points for in process. */
function corpusSeriesOf(rows) {
  const series = new Map();
  for (const row of rows) {
    if (row.method !== 'transform' || !row.files_per_s || row.workers === undefined) continue;
    // md4c-beside: one more md4c point, measured right after the fast 1-worker row.
    const inProcess = row.workers === 0 || row.transport === 'md4c-beside';
    const key = row.transport === 'md4c' ? 'floor: md4c in process (C++)'
      : row.transport === 'md4c-beside' ? 'md4c in process, after fast ×1'
        : inProcess ? `${row.transport} (in process)` : `${row.client} ${row.transport}`;
    if (!series.has(key)) series.set(key, { key, points: [], style: inProcess ? 'point' : row.transport === 'md4c' ? 'dashed' : 'line' });
    series.get(key).points.push([Math.max(1, row.workers), row.files_per_s]);
  }
  for (const s of series.values()) s.points.sort((a, b) => a[0] - b[0]);
  return [...series.values()];
}

function plotSeries(out, series, x, y, legendX, legendTop) {
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const dash = s.style === 'dashed' ? ' stroke-dasharray="6 4"' : '';
    const points = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    if (s.style !== 'point') out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.join(' ')}"/>`);
    for (const p of points) {
      const [px, py] = p.split(',');
      out.push(`<circle cx="${px}" cy="${py}" r="${s.style === 'point' ? 5 : 3}" fill="${color}"/>`);
    }
    const ly = legendTop + 10 + i * 20;
    out.push(`<line x1="${legendX}" x2="${legendX + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<circle cx="${legendX + 12}" cy="${ly}" r="3" fill="${color}"/>`,
      `<text x="${legendX + 32}" y="${ly + 4}">${escapeXml(s.key)}</text>`);
  });
}

function renderCorpus(out, rows) {
  const series = corpusSeriesOf(rows);
  const P = CORPUS;
  out.push(`<text x="${P.left}" y="${P.top - 26}" font-size="15" font-weight="bold">Markdown corpus: files/s against workers (threads), every file in flight</text>`);
  if (series.length === 0) {
    out.push(`<text x="${P.left}" y="${P.top + 20}">no corpus rows in this run</text>`);
    return;
  }
  const maxWorkers = Math.max(2, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const top = Math.max(...series.flatMap((s) => s.points.map((p) => p[1])));
  const step = niceStep(top / 8);
  const yMax = Math.ceil(top / step) * step;
  const x = (workers) => P.left + 40 + ((workers - 1) / (maxWorkers - 1)) * (P.right - P.left - 80);
  const y = (files) => P.bottom - (files / yMax) * (P.bottom - P.top);
  for (let v = 0; v <= yMax; v += step) {
    out.push(`<line x1="${P.left}" x2="${P.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${P.left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toLocaleString('en-US')}</text>`);
  }
  for (let w = 1; w <= maxWorkers; w++) {
    out.push(`<line x1="${x(w)}" x2="${x(w)}" y1="${P.top}" y2="${P.bottom}" stroke="#eee"/>`,
      `<text x="${x(w)}" y="${P.bottom + 18}" text-anchor="middle">${w}</text>`);
  }
  out.push(`<rect x="${P.left}" y="${P.top}" width="${P.right - P.left}" height="${P.bottom - P.top}" fill="none" stroke="#333"/>`,
    `<text x="${(P.left + P.right) / 2}" y="${P.bottom + 40}" text-anchor="middle">workers (processes or threads); in-process rows at 1</text>`,
    `<text transform="translate(20 ${(P.top + P.bottom) / 2}) rotate(-90)" text-anchor="middle">files/s</text>`);
  plotSeries(out, series, x, y, P.right + 20, P.top);
}

/** The goals of issue 13 this run measured, one line each: ratio, target, verdict. */
function renderGoals(out, rows) {
  const measured = evaluateRingGoals(rows).filter((g) => g.measured !== null);
  out.push(`<text x="80" y="${GOALS_TOP - 20}" font-size="15" font-weight="bold">Goals of issue 13 measured in this run (socket frames; no rings yet)</text>`);
  measured.forEach((g, i) => {
    const color = g.met ? '#2ca02c' : '#d62728';
    out.push(`<text x="80" y="${GOALS_TOP + i * GOAL_LINE}"><tspan fill="${color}" font-weight="bold">${g.met ? 'met' : 'missed'}</tspan>` +
      ` ${escapeXml(`${g.name}: ${fmt(g.measured)} (target ${g.target})`)}</text>`);
  });
  return GOALS_TOP + measured.length * GOAL_LINE + 10;
}

function renderSvg({ machine, rows: allRows }) {
  // The primary build's rows; the posix build's are compared in latest.md.
  const rows = allRows.filter((row) => !row.platform);
  const series = seriesOf(rows);
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const yMin = Math.floor(Math.log10(Math.min(...values, 1)));
  const yMax = Math.ceil(Math.log10(Math.max(...values, 10)));
  const xMin = Math.log10(32);
  const xMax = Math.log10(16 * 1048576);
  const x = (bytes) => PLOT.left + ((Math.log10(bytes) - xMin) / (xMax - xMin)) * (PLOT.right - PLOT.left);
  const y = (us) => PLOT.bottom - ((Math.log10(us) - yMin) / (yMax - yMin)) * (PLOT.bottom - PLOT.top);
  const out = [
    '',  // the <svg> opening tag, once the height is known
    '',  // its background

    `<text x="${PLOT.left}" y="24" font-size="15" font-weight="bold">Round-trip latency (p50) vs payload size, echo</text>`,
    `<text x="${PLOT.left}" y="40" fill="#555">${escapeXml(`${machine.date} · ${machine.cpus} vCPU · ${machine.mode} run · log scales`)}</text>`,
  ];
  for (let decade = yMin; decade <= yMax; decade++) {
    const us = 10 ** decade;
    const label = us >= 1e6 ? `${us / 1e6} s` : us >= 1e3 ? `${us / 1e3} ms` : `${us} µs`;
    out.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(us)}" y2="${y(us)}" stroke="#ddd"/>`,
      `<text x="${PLOT.left - 8}" y="${y(us) + 4}" text-anchor="end">${label}</text>`);
  }
  for (const [bytes, label] of SIZE_TICKS) {
    out.push(`<line x1="${x(bytes)}" x2="${x(bytes)}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#eee"/>`,
      `<text x="${x(bytes)}" y="${PLOT.bottom + 18}" text-anchor="middle">${label}</text>`);
  }
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${HEIGHT - 20}" text-anchor="middle">payload size</text>`,
    `<text transform="translate(20 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">p50 latency</text>`);
  plotSeries(out, series, x, y, PLOT.right + 20, PLOT.top);
  renderCorpus(out, rows);
  const height = renderGoals(out, rows);
  out[0] = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`;
  out[1] = `<rect width="${WIDTH}" height="${height}" fill="white"/>`;
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

module.exports = { renderSvg };
