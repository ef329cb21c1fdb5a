/**
 * Builds the V8 start-up snapshots of the CLI: dist/bundle/mesh.blob from dist/bundle/mesh-snapshot.cjs,
 * and mesh-tools.blob, the short-lived commands', from mesh-tools-snapshot.cjs (scripts/bundle.mjs
 * makes those scripts and the launcher), for the node binary running this script and with the
 * launcher's V8 flags (a blob only loads under the flags it was built with).
 *
 * Runs after the bundle in `npm run build` and again from the package's install script, so an
 * installed package gets a blob for the node that installed it. Next to the blob goes
 * mesh.blob.node, the fingerprint of that node binary (`size mtime`, as `stat -L -c '%s %Y'` prints
 * it; no inode, which a container image's layers do not keep), given that binary's mtime as its own
 * (the launcher compares the two mtimes without running `stat`): the launcher starts from the blob
 * only when `node` on its PATH has that fingerprint, and runs the plain bundle otherwise (a node
 * of another version refuses a foreign blob and exits). A failed build leaves no blob, and the
 * launcher runs the bundle.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const bundleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bundle');
/** Each snapshot's script (made by scripts/bundle.mjs) and blob: every command's, and the short-lived commands' (src/cli/snapshot-tools.ts). */
const SNAPSHOTS = [
  { script: resolve(bundleDir, 'mesh-snapshot.cjs'), blob: resolve(bundleDir, 'mesh.blob') },
  { script: resolve(bundleDir, 'mesh-tools-snapshot.cjs'), blob: resolve(bundleDir, 'mesh-tools.blob') },
];
const stamp = `${SNAPSHOTS[0].blob}.node`;

/** The fingerprint of a node binary from its (bigint) stat, as the launcher's `stat -L -c '%s %Y'` prints it. */
function nodeFingerprint(s) {
  return `${s.size} ${s.mtimeMs / 1000n}`;
}

/** The V8 flags of the launcher's plain `exec node <flags> "$0" "$@"`. */
function launcherFlags() {
  const launcher = /exec node((?: --?[\w-]+(?:=\S+)?)*) "\$0" "\$@"$/m.exec(readFileSync(resolve(bundleDir, 'mesh.js'), 'latin1').slice(0, 2000));
  if (!launcher) throw new Error('dist/bundle/mesh.js has no launcher line');
  return launcher[1].split(' ').filter(Boolean);
}

/**
 * Where Node's code cache of its built-in modules starts in a blob, or -1 when the layout is not the
 * one expected. Node keeps that cache (2.9 MB for Node 20) in the malloc heap of every process
 * started from the blob, a second copy of what its binary already holds, and copies it out of the
 * file at each start (~1,400 page faults). The built-ins a node runs on are compiled in the
 * snapshot already; one loaded later compiles from its source. `withoutCodeCache` in
 * --build-snapshot-config would drop it too, but also flushes the compiled functions of the snapshot,
 * and V8 11.3 then crashes recompiling some of them (a context slot out of range).
 * Node 20's layout (src/node_snapshotable.cc, SnapshotData::ToBlob): u32 magic; metadata (u8 type,
 * three u64-length-prefixed strings, u32 V8 cache tag, u32 flags); i32 size + V8 startup data; the
 * isolate's and environment's indices (a few KB); last the code cache, u64 count of
 * { u64 length + id, u64 length + data }. The cache's start is found by parsing: the only offset past
 * the V8 data from which such a vector ends exactly at the end of the file.
 */
function builtinCodeCacheOffset(b) {
  if (b.length < 64 || b.readUInt32LE(0) !== 0x0143da19) return -1;
  let p = 5;
  for (let i = 0; i < 3; i++) p += 8 + Number(b.readBigUInt64LE(p));
  p += 8;
  p += 4 + b.readInt32LE(p);
  const endsAtEof = (q) => {
    const count = Number(b.readBigUInt64LE(q));
    if (count < 1 || count > 5000) return false;
    q += 8;
    for (let i = 0; i < count; i++) {
      if (q + 8 > b.length) return false;
      const idLength = Number(b.readBigUInt64LE(q));
      if (idLength < 1 || idLength > 200 || q + 8 + idLength > b.length) return false;
      for (let c = q + 8; c < q + 8 + idLength; c++) if (b[c] <= 32 || b[c] >= 127) return false;
      q += 8 + idLength;
      if (q + 8 > b.length) return false;
      q += 8 + Number(b.readBigUInt64LE(q));
    }
    return q === b.length;
  };
  const found = [];
  for (let q = p; q + 8 <= Math.min(b.length, p + 1_000_000); q++) if (endsAtEof(q)) found.push(q);
  return found.length === 1 ? found[0] : -1;
}

/**
 * Writes `partial` without the built-ins' code cache (an empty vector in its place) when its layout is
 * recognised and a start from the result prints a version; otherwise leaves it whole.
 */
function dropBuiltinCodeCache(partial, flags) {
  const b = readFileSync(partial);
  const offset = builtinCodeCacheOffset(b);
  if (offset < 0) return;
  const trimmed = `${partial}.trimmed`;
  writeFileSync(trimmed, Buffer.concat([b.subarray(0, offset), Buffer.alloc(8)]));
  const check = spawnSync(process.execPath, [...flags, '--snapshot-blob', trimmed, resolve(bundleDir, 'mesh.js'), 'ca', '--help'], { encoding: 'utf8', timeout: 30_000 });
  if (check.status === 0 && /^Usage: mesh ca /.test(check.stdout)) renameSync(trimmed, partial);
  else rmSync(trimmed, { force: true });
}

/** Builds `blob` from `script`; false (and a warning) when node fails to. */
function buildBlob(script, blob, flags) {
  const partial = `${blob}.partial`;
  const run = spawnSync(process.execPath, [...flags, '--snapshot-blob', partial, '--build-snapshot', script], {
    cwd: bundleDir,
    encoding: 'utf8',
    // Node warns about every built-in it has not verified in snapshots; those the script loads are.
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  if (run.status !== 0 || !existsSync(partial)) {
    rmSync(partial, { force: true });
    process.stderr.write(`mesh: no start-up snapshot ${blob} (the CLI runs without it): ${run.error?.message ?? run.stderr.trim()}\n`);
    return false;
  }
  dropBuiltinCodeCache(partial, flags);
  renameSync(partial, blob);
  return true;
}

function buildSnapshots() {
  rmSync(stamp, { force: true });
  for (const { blob } of SNAPSHOTS) rmSync(blob, { force: true });
  const flags = launcherFlags();
  // Without the first, every command's, the launcher uses none (it would not pick the second).
  if (!buildBlob(SNAPSHOTS[0].script, SNAPSHOTS[0].blob, flags)) return;
  for (const { script, blob } of SNAPSHOTS.slice(1)) buildBlob(script, blob, flags);
  // Last: the launcher trusts the blobs once their node's fingerprint is there. Given the node's own mtime, the
  // launcher checks it without running `stat`: utimes sets it to the millisecond (exact for the
  // usual whole-second mtime of a packaged binary), `touch -r`, where there is one, to the
  // nanosecond. Where they differ still, the launcher checks with `stat`.
  const node = statSync(process.execPath, { bigint: true });
  writeFileSync(stamp, `${nodeFingerprint(node)}\n`);
  utimesSync(stamp, node.atime, node.mtime);
  spawnSync('touch', ['-r', process.execPath, stamp]);
}

// Before the first build (the install script of a fresh clone) there is nothing to snapshot yet.
if (existsSync(SNAPSHOTS[0].script)) buildSnapshots();
