'use strict';
// What fastmd-transform converts: its INPUTs (files, directory trees, '-' for stdin) turned
// into jobs {index, source, target} and per-input failures {index, path, reason}, so a bad
// entry is reported and never ends the batch or is skipped silently. Also the one-line
// reasons the command prints, and the check that refuses content that is not Markdown text.

const { isUtf8 } = require('node:buffer');
const fs = require('node:fs');
const path = require('node:path');
const { getSystemErrorMap } = require('node:util');

const MARKDOWN_EXTENSIONS = new Set(['.md', '.markdown']);

/** A mistake in the command line: nothing is done, the status is 2. */
class UsageError extends Error {}

/**
 * The reason of `error` as a short phrase for "path: reason": a system error's description
 * ("permission denied"), a FastmdError's message with its code, else its message; one line.
 */
function describeError(error) {
  let text;
  if (typeof error?.errno === 'number' && error.errno < 0 && error.syscall) {
    text = getSystemErrorMap().get(error.errno)?.[1] ?? error.code ?? error.message;
  } else if (typeof error?.code === 'string' && error.code.startsWith('FASTMD_')) {
    text = `${error.message} (${error.code})`;
  } else {
    text = String(error?.message ?? error);
  }
  return text.replace(/\s*\n\s*/g, ' ');
}

/** Why `bytes` are not converted (binary, not UTF-8), or null when they are Markdown text. */
function contentProblem(bytes) {
  const nul = bytes.indexOf(0);
  if (nul !== -1) return `not converted: a binary file (a NUL byte at offset ${nul})`;
  if (!isUtf8(bytes)) return 'not converted: not valid UTF-8';
  return null;
}

function isMarkdownName(name) {
  return MARKDOWN_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** An entry that may have been meant as input: a Markdown name, or no extension (a directory). */
function couldBeInput(name) {
  return isMarkdownName(name) || path.extname(name) === '';
}

function htmlName(file) {
  const ext = path.extname(file);
  return `${MARKDOWN_EXTENSIONS.has(ext.toLowerCase()) ? file.slice(0, -ext.length) : file}.html`;
}

function kindOf(stat) {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Jobs and failures in the order the inputs name them (each gets the next index). */
class Plan {
  constructor(outDir) {
    this.outDir = outDir;
    this.jobs = [];
    this.failures = [];
    this.next = 0;
  }

  job(source, target) {
    this.jobs.push({ index: this.next++, source, target });
  }

  fail(where, reason) {
    this.failures.push({ index: this.next++, path: where, reason });
  }

  /** Why `file` cannot be followed (lstat says it is a link and stat failed), as a reason. */
  brokenLink(file, error) {
    let target = '?';
    try {
      target = fs.readlinkSync(file);
    } catch (readError) {
      target = `? (${describeError(readError)})`;
    }
    if (error.code === 'ENOENT') return `dangling symbolic link: its target ${target} does not exist`;
    if (error.code === 'ELOOP') return `symbolic link loop (through ${target})`;
    return `symbolic link to ${target}: ${describeError(error)}`;
  }

  /** The tree under `root`: every Markdown file (following links), every entry that fails. */
  walk(root, rel, ancestors) {
    const dir = path.join(root, rel);
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      this.fail(dir, `cannot read directory: ${describeError(error)}`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relative = path.join(rel, entry.name);
      const full = path.join(root, relative);
      let stat;
      try {
        stat = fs.statSync(full);
      } catch (error) {
        // Only a link can fail here (its target is gone or unreachable): report it when it
        // could have been an input.
        if (couldBeInput(entry.name)) {
          this.fail(full, entry.isSymbolicLink() ? this.brokenLink(full, error) : `cannot read: ${describeError(error)}`);
        }
        continue;
      }
      if (stat.isDirectory()) {
        const id = `${stat.dev}:${stat.ino}`;
        if (ancestors.has(id)) {
          this.fail(full, `symbolic link loop: it leads back to ${ancestors.get(id)}`);
          continue;
        }
        this.walk(root, relative, new Map(ancestors).set(id, full));
      } else if (isMarkdownName(entry.name)) {
        if (stat.isFile()) this.job(full, path.join(this.outDir, htmlName(relative)));
        else this.fail(full, `not converted: ${kindOf(stat)}`);
      }
    }
  }

  input(input) {
    if (input === '-') {
      this.job('-', this.outDir ? path.join(this.outDir, 'stdin.html') : null);
      return;
    }
    let stat;
    try {
      stat = fs.statSync(input);
    } catch (error) {
      let isLink = false;
      try {
        isLink = fs.lstatSync(input).isSymbolicLink();
      } catch {
        // not there at all: the stat error says so
      }
      this.fail(input, isLink ? this.brokenLink(input, error) : describeError(error));
      return;
    }
    if (stat.isDirectory()) {
      if (!this.outDir) throw new UsageError(`${input} is a directory: say where its HTML goes with --out DIR`);
      this.walk(input, '', new Map([[`${stat.dev}:${stat.ino}`, input]]));
    } else {
      // Named on the command line, anything readable is taken (a pipe from <(…) as well).
      this.job(input, this.outDir ? path.join(this.outDir, htmlName(path.basename(input))) : null);
    }
  }

  /** Two jobs writing the same HTML file: the later one fails instead of overwriting. */
  refuseCollisions() {
    const writers = new Map();
    this.jobs = this.jobs.filter((job) => {
      if (job.target === null) return true;
      const first = writers.get(job.target);
      if (first === undefined) {
        writers.set(job.target, job.source);
        return true;
      }
      this.failures.push({ index: job.index, path: job.source, reason: `not converted: its HTML would overwrite ${job.target}, written from ${first}` });
      return false;
    });
  }
}

/**
 * Plans the run: {jobs: [{index, source, target}], failures: [{index, path, reason}]}.
 * `source` '-' is stdin; `target` null is stdout. Throws UsageError for a directory without
 * `outDir`, or several inputs without it.
 */
function planJobs(inputs, outDir) {
  if (!outDir && inputs.length > 1) throw new UsageError('several inputs need --out DIR');
  const plan = new Plan(outDir);
  for (const input of inputs) plan.input(input);
  plan.refuseCollisions();
  return { jobs: plan.jobs, failures: plan.failures };
}

module.exports = { planJobs, describeError, contentProblem, UsageError };
