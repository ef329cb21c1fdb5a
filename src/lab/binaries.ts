/** The node programs a lab runs: the compiled mesh CLI and nebula 1.6.1. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The compiled mesh CLI (dist/bundle/mesh.js: the bundle that package.json's bin names). */
export const MESH_BIN = fileURLToPath(new URL('../../bundle/mesh.js', import.meta.url));

/**
 * The V8 flags the bin starts node with (the `exec node <flags> "$0"` line of its launcher, see
 * scripts/bundle.mjs): a lab that starts the bin as `node MESH_BIN` passes them itself, so its nodes
 * run as an installed `mesh` runs.
 */
export function meshNodeFlags(bin = MESH_BIN): string[] {
  const launcher = /^':' \/\/; exec node((?: --?[\w-]+(?:=\S+)?)*) "\$0" "\$@"$/m.exec(readFileSync(bin, 'latin1').slice(0, 300));
  return launcher ? launcher[1]!.split(' ').filter(Boolean) : [];
}

export type Impl = 'mesh' | 'nebula';

/** The log line that says a node is up, per implementation. */
export const READY: Record<Impl, RegExp> = { mesh: /mesh node started/, nebula: /Nebula interface is active/ };

/** The command that runs a node of `impl` with `configPath` (`sub` picks the mesh subcommand). */
export function nodeCommand(impl: Impl, configPath: string, sub = 'node'): [string, string[]] {
  return impl === 'mesh' ? [process.execPath, [...meshNodeFlags(), MESH_BIN, sub, '--config', configPath]] : ['nebula', ['-config', configPath]];
}
