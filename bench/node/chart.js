'use strict';
// bench/node/chart.js — latest.svg: p50 round-trip latency against payload size, one line
// per client and transport (echo, string payloads), both axes logarithmic, with the memcpy
// floor as a dashed reference and the ping-pong floors as points. Plain SVG, no dependency.

const WIDTH = 960;
const HEIGHT = 600;
const PLOT = { left: 80, right: 700, top: 50, bottom: 530 };
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

function renderSvg({ machine, rows }) {
  const series = seriesOf(rows);
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const yMin = Math.floor(Math.log10(Math.min(...values, 1)));
  const yMax = Math.ceil(Math.log10(Math.max(...values, 10)));
  const xMin = Math.log10(32);
  const xMax = Math.log10(16 * 1048576);
  const x = (bytes) => PLOT.left + ((Math.log10(bytes) - xMin) / (xMax - xMin)) * (PLOT.right - PLOT.left);
  const y = (us) => PLOT.bottom - ((Math.log10(us) - yMin) / (yMax - yMin)) * (PLOT.bottom - PLOT.top);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
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
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const points = s.points.map(([b, us]) => `${x(b).toFixed(1)},${y(us).toFixed(1)}`);
    if (s.style !== 'point') {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.style === 'dashed' ? ' stroke-dasharray="6 4"' : ''} points="${points.join(' ')}"/>`);
    }
    for (const p of points) {
      const [px, py] = p.split(',');
      out.push(`<circle cx="${px}" cy="${py}" r="${s.style === 'point' ? 5 : 3}" fill="${color}"/>`);
    }
    const ly = PLOT.top + 10 + i * 20;
    out.push(`<line x1="${PLOT.right + 20}" x2="${PLOT.right + 44}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.style === 'dashed' ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<circle cx="${PLOT.right + 32}" cy="${ly}" r="3" fill="${color}"/>`,
      `<text x="${PLOT.right + 52}" y="${ly + 4}">${escapeXml(s.key)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

module.exports = { renderSvg };
