/**
 * The entry of the V8 start-up snapshot (dist/bundle/mesh.blob; scripts/bundle.mjs bundles this
 * file into one CommonJS script, scripts/build-snapshot.mjs runs it under `node --build-snapshot`).
 * At build time it evaluates the modules that `mesh node` and `mesh ca` run on, with the Node
 * built-ins they use, so a start from the blob neither compiles nor runs them again.
 *
 * What the snapshot holds is frozen at build time: only module bodies run here, and those of mesh
 * keep no process state (pid, time, randomness, environment, streams). pino is left out (it reads
 * the pid and host name when loaded), and so is everything that opens sockets or loads the addon:
 * they run after deserialisation, on first use.
 */
// Built-ins that a node loads after its modules' bodies have run (sockets, DNS, the worker pool).
import 'node:dgram';
import 'node:dns/promises';
import 'node:net';
import 'node:worker_threads';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { startupSnapshot } from 'node:v8';
import { buildProgram, main } from './main.js';

Promise.all([buildProgram(['node']), buildProgram(['ca'])])
  .then(() => {
    startupSnapshot.setDeserializeMainFunction(() => {
      // The bundle's `import.meta.url` (scripts/bundle.mjs): the launcher, run from the blob as its script.
      (globalThis as { __meshBundleUrl?: string }).__meshBundleUrl = pathToFileURL(realpathSync(process.argv[1]!)).href;
      main(process.argv.slice(2)).then((code) => (process.exitCode = code));
    });
  })
  .catch((err: unknown) => {
    process.stderr.write(`mesh snapshot: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
