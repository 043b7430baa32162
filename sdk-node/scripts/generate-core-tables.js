#!/usr/bin/env node
// Writes the C++ core's tables that the package's JS needs even without the addon (the
// legacy transport), so JS never keeps a hand-typed copy:
//   lib/errno.json  — the protocol's error codes {NAME: number}, from
//                     proto/include/fastmd/proto/error.hpp (enum Errc and kErrcTable);
//   lib/policy.json — the call policy {maxSendsPerCall, handshakeTimeoutMs, ...}, from
//                     sdk-cpp/include/fastmd/ipc/call_policy.hpp (kName → name, + "Ms"/"Us" for
//                     durations).
// test/core-tables.test.js checks both against the headers and against the addon's `errno` and
// `policy` exports, compiled from the same headers. Run after changing either header:
//   node scripts/generate-core-tables.js
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.resolve(__dirname, '..');
const repoDir = path.join(packageDir, '..');
const ERROR_HEADER = path.join(repoDir, 'proto', 'include', 'fastmd', 'proto', 'error.hpp');
const POLICY_HEADER = path.join(repoDir, 'sdk-cpp', 'include', 'fastmd', 'ipc', 'call_policy.hpp');

/** {NAME: number} from error.hpp's enum (numbers) and kErrcTable (names). */
function errorNumbers(source) {
  const numbers = new Map();
  const enumBody = /enum class Errc[^{]*\{([^}]*)\}/.exec(source);
  if (!enumBody) throw new Error('error.hpp: enum class Errc not found');
  for (const [, member, value] of enumBody[1].matchAll(/(\w+)\s*=\s*(\d+)/g)) numbers.set(member, Number(value));
  const table = {};
  for (const [, member, name] of source.matchAll(/\{Errc::(\w+),\s*"([A-Z_]+)"/g)) {
    if (!numbers.has(member)) throw new Error(`error.hpp: kErrcTable names Errc::${member}, which the enum lacks`);
    table[name] = numbers.get(member);
  }
  if (Object.keys(table).length !== numbers.size) {
    throw new Error(`error.hpp: kErrcTable has ${Object.keys(table).length} entries for ${numbers.size} codes`);
  }
  return table;
}

/**
 * {name: number} from call_policy.hpp's `inline constexpr <type> kName{N}` / `= N * M`, and
 * `inline constexpr proto::Errc kName = proto::Errc::member;` as that code's number.
 */
function policyNumbers(source) {
  const table = {};
  const codes = /inline constexpr proto::Errc k(\w+)\s*=\s*proto::Errc::(\w+);/g;
  for (const [, name, member] of source.matchAll(codes)) {
    const enumBody = /enum class Errc[^{]*\{([^}]*)\}/.exec(fs.readFileSync(ERROR_HEADER, 'utf8'));
    const value = new RegExp(`\\b${member}\\s*=\\s*(\\d+)`).exec(enumBody[1]);
    if (!value) throw new Error(`call_policy.hpp: k${name} names Errc::${member}, which error.hpp lacks`);
    table[name[0].toLowerCase() + name.slice(1)] = Number(value[1]);
  }
  const constant = /inline constexpr ([\w:]+) k(\w+)\s*(?:\{([\d\s*]+)\}|=\s*([\d\s*]+);)/g;
  for (const [, type, name, braced, assigned] of source.matchAll(constant)) {
    const value = (braced ?? assigned).split('*').reduce((product, factor) => product * Number(factor.trim()), 1);
    const unit = type.endsWith('milliseconds') ? 'Ms' : type.endsWith('microseconds') ? 'Us' : '';
    const key = name[0].toLowerCase() + name.slice(1) + unit;
    table[key] = value;
  }
  if (Object.keys(table).length === 0) throw new Error('call_policy.hpp: no constants found');
  return table;
}

const TABLES = [
  { file: path.join(packageDir, 'lib', 'errno.json'), header: ERROR_HEADER, parse: errorNumbers },
  { file: path.join(packageDir, 'lib', 'policy.json'), header: POLICY_HEADER, parse: policyNumbers },
];

if (require.main === module) {
  for (const { file, header, parse } of TABLES) {
    const table = parse(fs.readFileSync(header, 'utf8'));
    fs.writeFileSync(file, `${JSON.stringify(table, null, 2)}\n`);
    console.log(`wrote ${path.relative(process.cwd(), file)} (${Object.keys(table).length} entries)`);
  }
}

module.exports = { TABLES, errorNumbers, policyNumbers };
