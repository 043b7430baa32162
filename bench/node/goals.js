'use strict';
// bench/node/goals.js — the goals of issue 7, evaluated on one run's rows: each as the
// measured ratio (to legacy NDJSON in the same run, Node client unless said), the target,
// and whether it is met. A goal whose rows are missing says so instead of guessing.

const MiB = 1024 * 1024;
const FAST_PATHS = new Set(['inline', 'inline-spin', 'fast', 'fast-spin']);

function finder(rows) {
  return (where) => rows.find((row) => Object.entries(where).every(([key, value]) => row[key] === value));
}

function goal(name, measured, target, met, detail) {
  return { name, measured, target, met, detail };
}

function ratioGoal(name, numerator, denominator, field, limit, atMost = true) {
  if (!numerator || !denominator || !numerator[field] || !denominator[field]) {
    return goal(name, null, `${atMost ? '≤' : '≥'} ${limit}`, null, 'rows missing');
  }
  const ratio = numerator[field] / denominator[field];
  return goal(name, ratio, `${atMost ? '≤' : '≥'} ${limit}`, atMost ? ratio <= limit : ratio >= limit,
    `${fmt(numerator[field])} vs ${fmt(denominator[field])} ${field}`);
}

function fmt(x) {
  if (x === undefined || x === null) return '';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toPrecision(3);
}

function evaluateGoals(rows) {
  const find = finder(rows);
  const echo = (client, transport, bytes, kind) => find({ client, transport, method: 'echo', payload_bytes: bytes,
    ...(client === 'node' ? { payload_kind: kind ?? 'string' } : {}) });
  const pipelined = (client, transport) => rows.find((r) => r.client === client && r.transport === transport &&
    r.method === 'echo' && r.payload_bytes === 64 && r.p50_us === undefined);
  const goals = [];
  for (const bytes of [64, 1024]) {
    goals.push(ratioGoal(`${bytes} B round trip p50, fast-spin / legacy`, echo('node', 'fast-spin', bytes), echo('node', 'legacy', bytes), 'p50_us', 0.5));
    goals.push(ratioGoal(`${bytes} B round trip p50, fast-client-spin / legacy`, echo('node', 'fast-client-spin', bytes), echo('node', 'legacy', bytes), 'p50_us', 0.5));
    goals.push(ratioGoal(`${bytes} B round trip p50, fast / legacy`, echo('node', 'fast', bytes), echo('node', 'legacy', bytes), 'p50_us', 0.8));
  }
  goals.push(ratioGoal('64 KiB round trip p50, fast / legacy', echo('node', 'fast', 64 * 1024), echo('node', 'legacy', 64 * 1024), 'p50_us', 0.3));
  for (const bytes of [MiB, 10 * MiB]) {
    for (const kind of ['string', 'buffer']) {
      goals.push(ratioGoal(`${bytes / MiB} MiB round trip p50 (${kind}), fast / legacy`, echo('node', 'fast', bytes, kind),
        echo('node', 'legacy', bytes, kind), 'p50_us', 0.05));
    }
  }
  goals.push(ratioGoal('64 B pipelined throughput, fast / legacy (callMany)', pipelined('node', 'fast'), pipelined('node', 'legacy'), 'msgs_per_s', 5, false));
  const cppSmall = pipelined('cpp', 'fast');
  goals.push(cppSmall ? goal('64 B pipelined throughput from C++ (fast)', cppSmall.msgs_per_s, '≥ 1,000,000 msgs/s',
    cppSmall.msgs_per_s >= 1e6, `${fmt(cppSmall.msgs_per_s)} msgs/s`) : goal('64 B pipelined throughput from C++ (fast)', null, '≥ 1,000,000 msgs/s', null, 'rows missing'));
  // A transfer is one way (method `length`: the payload goes, its length comes back); an echo
  // is two transfers and two copies, so it is shown beside it against the same floor.
  const memcpy10 = find({ transport: 'floor-memcpy', payload_bytes: 10 * MiB });
  goals.push(ratioGoal('10 MiB transfer from C++ (fast, `length`), GB/s / memcpy GB/s',
    find({ client: 'cpp', transport: 'fast', method: 'length', payload_bytes: 10 * MiB }), memcpy10, 'gb_per_s', 0.5, false));
  goals.push(ratioGoal('10 MiB echo from C++ (fast, two transfers), GB/s / memcpy GB/s', echo('cpp', 'fast', 10 * MiB),
    memcpy10, 'gb_per_s', 0.5, false));
  // The warm floor copies within the last-level cache; a segment's blocks rotate beyond it,
  // like the cold floor's targets.
  goals.push(ratioGoal('10 MiB transfer from C++ (fast, `length`), GB/s / cold memcpy GB/s',
    find({ client: 'cpp', transport: 'fast', method: 'length', payload_bytes: 10 * MiB }),
    find({ transport: 'floor-memcpy-cold', payload_bytes: 10 * MiB }), 'gb_per_s', 0.5, false));
  goals.push(ratioGoal('CPU per request at 1 KiB, fast / legacy', echo('node', 'fast', 1024), echo('node', 'legacy', 1024), 'cpu_us_per_req', 0.3));
  const rss1 = find({ transport: 'daemon', sessions: 1 });
  const rss128 = find({ transport: 'daemon', sessions: 128 });
  if (rss1 && rss128) {
    const perSession = (rss128.daemon_rss_kib - rss1.daemon_rss_kib) / 127;
    goals.push(goal('daemon RSS per connected session', perSession, '< 1024 KiB', perSession < 1024,
      `${fmt(rss1.daemon_rss_kib)} KiB with 1, ${fmt(rss128.daemon_rss_kib)} KiB with 128 sessions`));
  } else {
    goals.push(goal('daemon RSS per connected session', null, '< 1024 KiB', null, 'rows missing'));
  }
  const corpus = (transport, workers) => find({ client: 'node', transport, method: 'transform', workers });
  for (const workers of [1, 2]) {
    goals.push(ratioGoal(`Markdown corpus files/s, fast / legacy (${workers} worker${workers > 1 ? 's' : ''})`,
      corpus('fast', workers), corpus('legacy', workers), 'files_per_s', 3, false));
    goals.push(ratioGoal(`Markdown corpus files/s, fast (${workers} worker${workers > 1 ? 's' : ''}) / markdown-it`,
      corpus('fast', workers), corpus('markdown-it', 0), 'files_per_s', 1, false));
  }
  // Cold-start rows time process starts, a few samples each: not a round trip's tail.
  const latencyRows = rows.filter((r) => FAST_PATHS.has(r.transport) && !r.cold_start && r.p50_us && r.p99_us);
  const worst = latencyRows.reduce((w, r) => (!w || r.p99_us / r.p50_us > w.p99_us / w.p50_us ? r : w), null);
  const spread = latencyRows.filter((r) => r.p99_us > 3 * r.p50_us);
  goals.push(worst ? goal('p99 within 3× p50 on every fast-path row', worst.p99_us / worst.p50_us, '≤ 3 (worst row)',
    spread.length === 0, `${spread.length} of ${latencyRows.length} rows over; worst: ${worst.client} ${worst.transport} ${worst.method} ${worst.payload_bytes} B`)
    : goal('p99 within 3× p50 on every fast-path row', null, '≤ 3', null, 'rows missing'));
  return goals;
}

module.exports = { evaluateGoals, fmt };
