/** The node programs a lab runs: the compiled mesh CLI and nebula 1.6.1. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled mesh CLI (dist/bundle/mesh.js: the bundle that package.json's bin names). */
export const MESH_BIN = fileURLToPath(new URL('../../bundle/mesh.js', import.meta.url));

/**
 * The V8 flags the bin starts node with (the plain `exec node <flags> "$0" "$@"` of its launcher,
 * see scripts/bundle.mjs): a lab that starts the bin as `node MESH_BIN` passes them itself, so its
 * nodes run as an installed `mesh` runs.
 */
export function meshNodeFlags(bin = MESH_BIN): string[] {
  const launcher = /exec node((?: --?[\w-]+(?:=\S+)?)*) "\$0" "\$@"$/m.exec(readFileSync(bin, 'latin1').slice(0, 2000));
  return launcher ? launcher[1]!.split(' ').filter(Boolean) : [];
}

/**
 * `--snapshot-blob <blob>` when the bin's start-up snapshot was built by the node binary `node`, as
 * its launcher decides (the fingerprint in mesh.blob.node, see scripts/build-snapshot.mjs, and no
 * NODE_OPTIONS); none otherwise, and the bin runs as plain JavaScript.
 */
export function meshSnapshotFlags(bin = MESH_BIN, node = process.execPath): string[] {
  if (process.env.NODE_OPTIONS) return [];
  const blob = join(dirname(bin), 'mesh.blob');
  try {
    const s = statSync(node, { bigint: true });
    const builtBy = readFileSync(`${blob}.node`, 'utf8').trim();
    return builtBy === `${s.size} ${s.mtimeMs / 1000n}` && existsSync(blob) ? ['--snapshot-blob', blob] : [];
  } catch {
    return [];
  }
}

/**
 * The variables a bin's launcher sets for a start from its snapshot (`NAME=value${NAME:+...} exec
 * node ... --snapshot-blob`), as `NAME=value` words for env(1). This build's launcher sets none;
 * those from 5cf2e0a up to 2df1b58 set GLIBC_TUNABLES, and the tunnel benchmark's `--baseline`
 * runs such a build as its launcher would.
 */
export function meshSnapshotEnvironment(bin = MESH_BIN): string[] {
  const launcher = /&& ((?:\w+=[^\s$]+\S* )*)exec node[^\n]* --snapshot-blob /.exec(readFileSync(bin, 'latin1').slice(0, 2000));
  return launcher ? launcher[1]!.split(' ').filter(Boolean).map((word) => word.replace(/\$\{.*$/, '')) : [];
}

export type Impl = 'mesh' | 'nebula';

/** The log line that says a node is up, per implementation. */
export const READY: Record<Impl, RegExp> = { mesh: /mesh node started/, nebula: /Nebula interface is active/ };

/**
 * The command that runs a node of `impl` with `configPath` (`sub` picks the mesh subcommand): mesh
 * as its launcher would start it under this node binary (through env(1) when it sets variables for
 * a start from the snapshot, on top of the environment the caller gives). `bin` runs another mesh
 * CLI instead of the bundle, e.g. an older build's dist/src/cli/bin.js (without a launcher line or
 * a snapshot next to it, it starts as plain `node <bin>`).
 */
export function nodeCommand(impl: Impl, configPath: string, sub = 'node', bin = MESH_BIN): [string, string[]] {
  if (impl === 'nebula') return ['nebula', ['-config', configPath]];
  const snapshot = meshSnapshotFlags(bin);
  const node: [string, string[]] = [process.execPath, [...meshNodeFlags(bin), ...snapshot, bin, sub, '--config', configPath]];
  const variables = snapshot.length > 0 ? meshSnapshotEnvironment(bin) : [];
  return variables.length > 0 ? ['env', [...variables, node[0], ...node[1]]] : node;
}
