'use strict';
// bench/node/step-args.js — the command line of bench/run's step programs (transports.js,
// alternatives.js, cold-start.js, probe-client.js): one parser, so each takes the same options
// the same way, answers --help, and refuses what it does not know (exit 2).

const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

const OPTION_HELP = {
  quick: '  --quick          few iterations: a check that the step runs, not numbers to quote',
  binDir: '  --bin-dir DIR    where fastmd-ipcd, fastmd-worker-md and the fastmd-bench-* programs\n' +
    '                   are (default: $FASTMD_BIN_DIR, else build/bin)',
  maxWorkers: '  --max-workers N  the corpus rows scale from 1 to N workers or threads (default: the\n' +
    '                   machine\'s cores)',
  many: '  --many           COUNT messages through callMany instead of single calls',
  sdk: '  --sdk DIR        the @fastmd/ipc package to load, its addon built (default: sdk-node/)',
  fastOnly: '  --fast-only      only the fast transport\'s echo series and callMany (no legacy, no corpus,\n' +
    '                   no spinning, no markdown-it): bench/run\'s row set for the posix layer',
};

function fail(program, message) {
  process.stderr.write(`${program}: ${message} (see --help)\n`);
  process.exit(2);
}

/**
 * Parses `argv` (process.argv.slice(2)) for the step program `file` (its __filename):
 * `about` is its description for --help, `takes` the options it accepts (keys of OPTION_HELP),
 * `positional` the names of its positional arguments, if any. Returns
 * {quick, binDir, maxWorkers, many, fastOnly, sdk, positional: [...]}; prints --help and exits 0, or exits 2
 * naming what it did not understand.
 */
function parseStepArgs(argv, file, { about, takes, positional = [] }) {
  const program = path.basename(file);
  const args = { quick: false, many: false, fastOnly: false, sdk: path.join(ROOT, 'sdk-node'), maxWorkers: os.cpus().length,
    binDir: path.resolve(process.env.FASTMD_BIN_DIR ?? path.join(ROOT, 'build', 'bin')), positional: [] };
  const accepts = new Set(takes);
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) fail(program, `${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === '--help' || argv[i] === '-h') {
      const names = positional.map((name) => ` ${name}`).join('');
      process.stdout.write(`usage: node bench/node/${program}${names} [options]\n\n${about}\n\noptions:\n` +
        `${takes.map((option) => OPTION_HELP[option]).join('\n')}\n  -h, --help       this text\n`);
      process.exit(0);
    } else if (argv[i] === '--quick' && accepts.has('quick')) {
      args.quick = true;
    } else if (argv[i] === '--many' && accepts.has('many')) {
      args.many = true;
    } else if (argv[i] === '--sdk' && accepts.has('sdk')) {
      args.sdk = path.resolve(value());
    } else if (argv[i] === '--fast-only' && accepts.has('fastOnly')) {
      args.fastOnly = true;
    } else if (argv[i] === '--bin-dir' && accepts.has('binDir')) {
      args.binDir = path.resolve(value());
    } else if (argv[i] === '--max-workers' && accepts.has('maxWorkers')) {
      const text = value();
      args.maxWorkers = Number(text);
      if (!Number.isInteger(args.maxWorkers) || args.maxWorkers < 1) {
        fail(program, `--max-workers wants a positive integer, not '${text}'`);
      }
    } else if (!argv[i].startsWith('-') && args.positional.length < positional.length) {
      args.positional.push(argv[i]);
    } else {
      fail(program, `unknown argument '${argv[i]}'`);
    }
  }
  if (args.positional.length < positional.length) {
    fail(program, `missing ${positional.slice(args.positional.length).join(' ')}`);
  }
  return args;
}

module.exports = { parseStepArgs };
