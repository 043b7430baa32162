#!/usr/bin/env node
// Makes fastmd-transform's man page (man/fastmd-transform.1) from its own --help, so the two
// cannot say different things; test/cli.test.js checks the committed page is what this makes.
//
//   node scripts/man-page.js           print the page
//   node scripts/man-page.js --write   (re)write man/fastmd-transform.1
//
// The help's layout is the input: "Usage: …", paragraphs, then "Section:" headings whose
// items are "  TERM  description" lines (deeper-indented lines continue the description).
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.resolve(__dirname, '..');
const cli = path.join(packageDir, 'bin', 'fastmd-transform.js');
const page = path.join(packageDir, 'man', 'fastmd-transform.1');

/** Text as roff: backslashes and hyphens escaped, no line taken for a request. */
function roff(text) {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

/**
 * An item's term: what is typed in bold (options, exit statuses, environment variables),
 * metavariables in italics ("--out DIR", "-h, --help", "FASTMD_BIN_DIR", "0").
 */
function term(text) {
  const typed = (word) => /^-/.test(word) || /^[0-9]+$/.test(word) || /^[A-Z]+(_[A-Z]+)+$/.test(word);
  return text.split(' ').map((word) => {
    if (typed(word)) return `\\fB${roff(word)}\\fR`;
    if (/^[A-Z]+$/.test(word)) return `\\fI${roff(word)}\\fR`;
    return roff(word);
  }).join(' ');
}

/**
 * The parts of `help`: {name, synopsis, paragraphs: [[line]], sections: [{title, items:
 * [{term, lines}]}]}. Paragraphs come before the first "Heading:" line.
 */
function parseHelp(help) {
  const lines = help.replace(/\n+$/, '').split('\n');
  const usage = /^Usage: (\S+) (.*)$/.exec(lines[0]);
  if (!usage) throw new Error('the help does not start with "Usage: NAME ARGS"');
  const parsed = { name: usage[1], synopsis: usage[2], paragraphs: [], sections: [] };
  let paragraph = null;
  for (const line of lines.slice(1)) {
    const section = parsed.sections[parsed.sections.length - 1];
    const heading = /^([A-Z][a-z ]+):$/.exec(line);
    const entry = /^ {2}(\S(?:\S| (?! ))*)(?: {2,}(.*))?$/.exec(line);
    const continued = /^ {4,}(\S.*)$/.exec(line);
    if (heading) {
      parsed.sections.push({ title: heading[1].toUpperCase(), items: [] });
    } else if (line === '') {
      paragraph = null;
    } else if (section && continued && section.items.length) {
      section.items[section.items.length - 1].lines.push(continued[1]);
    } else if (section && entry) {
      section.items.push({ term: entry[1], lines: entry[2] ? [entry[2]] : [] });
    } else if (!section) {
      if (!paragraph) parsed.paragraphs.push((paragraph = []));
      paragraph.push(line);
    } else {
      throw new Error(`the help's ${section.title} section has a line that is not an item: ${line}`);
    }
  }
  return parsed;
}

/** The man page (roff, man macros) for `help`, the text of `fastmd-transform --help`. */
function render(help, version) {
  const { name, synopsis, paragraphs, sections } = parseHelp(help);
  // NAME is the description's first sentence: "name \- what it does".
  const first = /^(.*?)\.(\s|$)/.exec(paragraphs[0].join(' '))[1];
  const out = [
    `.\\" Made by scripts/man-page.js from \`${name} --help\`: do not edit, run \`node scripts/man-page.js --write\`.`,
    `.TH ${name.toUpperCase()} 1 "" "@fastmd/ipc ${version}" "User Commands"`,
    '.SH NAME', `${name} \\- ${roff(first.charAt(0).toLowerCase() + first.slice(1))}`,
    '.SH SYNOPSIS', `.B ${name}`, roff(synopsis),
    '.SH DESCRIPTION', paragraphs.map((lines) => roff(lines.join('\n'))).join('\n.PP\n'),
  ];
  for (const { title, items } of sections) {
    out.push(`.SH ${title}`);
    for (const item of items) out.push('.TP', term(item.term), roff(item.lines.join('\n')));
  }
  return `${out.join('\n')}\n`;
}

/** The page as the CLI's --help makes it now. */
function currentPage() {
  const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  const { version } = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  return render(help, version);
}

module.exports = { render, currentPage, page };

if (require.main === module) {
  if (process.argv[2] === '--write') {
    fs.mkdirSync(path.dirname(page), { recursive: true });
    fs.writeFileSync(page, currentPage());
    console.error(`man-page: wrote ${path.relative(process.cwd(), page)}`);
  } else if (process.argv.length === 2) {
    process.stdout.write(currentPage());
  } else {
    console.error('usage: node scripts/man-page.js [--write]');
    process.exit(2);
  }
}
