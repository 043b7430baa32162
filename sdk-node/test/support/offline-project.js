'use strict';
// A fresh npm project that installs the packed @fastmd/ipc offline, for the tests and for
// scripts/check-install. Offline, a project installs a tarball from its lockfile (`npm ci`):
// npm 11 resolves a dependency without a lockfile from its full registry document, which the
// cache filled by scripts/setup's `npm ci` does not hold. So the lockfile written here pins
// the tarball, and the package's own dependencies as sdk-node/package-lock.json pins them.
//
//   node test/support/offline-project.js DIR NAME TARBALL   makes DIR/NAME and prints its path

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.resolve(__dirname, '..', '..');

/** Makes the project directory `dir/name` depending on `tarball`, with its lockfile. */
function newProject(dir, name, tarball) {
  const project = path.join(dir, name);
  fs.mkdirSync(project);
  const spec = `file:${path.relative(project, tarball)}`;
  const manifest = { name, version: '1.0.0', private: true, dependencies: { '@fastmd/ipc': spec } };
  const ours = JSON.parse(fs.readFileSync(path.join(packageDir, 'package-lock.json'), 'utf8')).packages;
  const { version, license, dependencies, bin, engines } = ours[''];
  const packages = {
    '': { name, version: '1.0.0', dependencies: manifest.dependencies },
    'node_modules/@fastmd/ipc': {
      version, resolved: spec, license, dependencies, bin, engines, hasInstallScript: true,
      integrity: `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`,
    },
  };
  for (const [where, entry] of Object.entries(ours)) if (where !== '' && !entry.dev) packages[where] = entry;
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(project, 'package-lock.json'),
    JSON.stringify({ name, version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  return project;
}

/** The arguments of the offline install, run in the project. */
const INSTALL_ARGS = ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'];

module.exports = { INSTALL_ARGS, newProject };

if (require.main === module) {
  const [dir, name, tarball] = process.argv.slice(2);
  if (!dir || !name || !tarball) {
    console.error('usage: node offline-project.js DIR NAME TARBALL');
    process.exit(2);
  }
  console.log(newProject(path.resolve(dir), name, path.resolve(tarball)));
}
