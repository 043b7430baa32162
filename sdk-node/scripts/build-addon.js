#!/usr/bin/env node
// install: builds the fast transport's N-API addon with node-gyp, offline. The headers are
// those of the Node that runs this script (its prefix's include/node, e.g. /usr/include/node
// from Debian's nodejs package), so node-gyp never downloads anything. An explicit
// `npm_config_nodedir` (or `nodedir` in .npmrc) wins.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** The directory holding include/node/node_api.h for the running Node, or null. */
function localNodeDir() {
  const configured = process.env.npm_config_nodedir;
  if (configured) return configured;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

const nodedir = localNodeDir();
if (!nodedir) {
  console.error(`@fastmd/ipc: Node's headers were not found next to ${process.execPath} ` +
    '(install the package that ships include/node/node_api.h, e.g. Debian\'s nodejs or libnode-dev, ' +
    'or set npm_config_nodedir)');
  process.exit(1);
}
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=max'],
  { cwd: path.resolve(__dirname, '..'), stdio: 'inherit' });
process.exit(result.status ?? 1);
