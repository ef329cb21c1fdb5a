/**
 * Builds the V8 start-up snapshot of the CLI: dist/bundle/mesh.blob from dist/bundle/mesh-snapshot.cjs
 * (scripts/bundle.mjs makes both that script and the launcher), for the node binary running this
 * script and with the launcher's V8 flags (a blob only loads under the flags it was built with).
 *
 * Runs after the bundle in `npm run build` and again from the package's install script, so an
 * installed package gets a blob for the node that installed it. Next to the blob goes
 * mesh.blob.node, the fingerprint of that node binary (`size mtime`, as `stat -L -c '%s %Y'` prints
 * it; no inode, which a container image's layers do not keep): the launcher starts from the blob
 * only when `node` on its PATH has that fingerprint, and runs the plain bundle otherwise (a node
 * of another version refuses a foreign blob and exits). A failed build leaves no blob, and the
 * launcher runs the bundle.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const bundleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bundle');
const script = resolve(bundleDir, 'mesh-snapshot.cjs');
const blob = resolve(bundleDir, 'mesh.blob');
const stamp = `${blob}.node`;

/** The fingerprint of a node binary, as the launcher's `stat -L -c '%s %Y'` prints it. */
function nodeFingerprint(path) {
  const s = statSync(path, { bigint: true });
  return `${s.size} ${s.mtimeMs / 1000n}`;
}

/** The V8 flags of the launcher's plain `exec node <flags> "$0" "$@"`. */
function launcherFlags() {
  const launcher = /exec node((?: --?[\w-]+(?:=\S+)?)*) "\$0" "\$@"$/m.exec(readFileSync(resolve(bundleDir, 'mesh.js'), 'latin1').slice(0, 600));
  if (!launcher) throw new Error('dist/bundle/mesh.js has no launcher line');
  return launcher[1].split(' ').filter(Boolean);
}

function buildSnapshot() {
  rmSync(stamp, { force: true });
  rmSync(blob, { force: true });
  const partial = `${blob}.partial`;
  const run = spawnSync(process.execPath, [...launcherFlags(), '--snapshot-blob', partial, '--build-snapshot', script], {
    cwd: bundleDir,
    encoding: 'utf8',
    // Node warns about every built-in it has not verified in snapshots; those the script loads are.
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  if (run.status !== 0 || !existsSync(partial)) {
    rmSync(partial, { force: true });
    process.stderr.write(`mesh: no start-up snapshot (the CLI runs without it): ${run.error?.message ?? run.stderr.trim()}\n`);
    return;
  }
  renameSync(partial, blob);
  // Last: the launcher trusts the blob once its fingerprint is there.
  writeFileSync(stamp, `${nodeFingerprint(process.execPath)}\n`);
}

// Before the first build (the install script of a fresh clone) there is nothing to snapshot yet.
if (existsSync(script)) buildSnapshot();
