/**
 * Bundles the compiled CLI (dist/src/cli/bin.js and everything it imports, dependencies included)
 * into dist/bundle/: one file for the start-up path and a chunk per lazily imported part
 * (`import()` stays lazy: each subcommand, the lighthouse, Docker, DNS, STUN, pretty logging).
 * Start-up is mostly module loading; one minified file instead of ~300 spares the resolving,
 * stat-ing and parsing. Then the same CLI as one CommonJS script, from which
 * scripts/build-snapshot.mjs makes the V8 start-up snapshot the launcher starts from when it can
 * (neither compiling nor running the modules of `mesh node` and `mesh ca` at start).
 * Runs after tsc (`npm run build`).
 */
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOL_COMMANDS } from '../dist/src/cli/tool-commands.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(root, 'dist');
const outdir = resolve(dist, 'bundle');

/**
 * V8 flags for every run of the bin: the young generation capped at 1 MiB semi-spaces (V8 grows
 * them to 16 MiB under traffic): ~20 MiB less resident memory at peak for more, shorter scavenges.
 * Flags can size the heap only on node's command line, so the bin starts as a shell script that
 * execs node with them on itself: `#!/usr/bin/env -S node ...` would need a GNU env, which
 * busybox-based images lack. The second line is a no-op string statement and a comment to
 * JavaScript, and to the shell: start from the start-up snapshot (scripts/build-snapshot.mjs) when
 * there is one built by the `node` on the PATH and no NODE_OPTIONS (V8 flags there, such as
 * --max-old-space-size, make node refuse the blob), else run this file. The short-lived commands
 * (TOOL_COMMANDS: `mesh ca`, `status`, ...) start from the small mesh-tools.blob when there is one
 * (src/cli/snapshot-tools.ts: 2.49 MB against 3.62 MB). A bare `--version` (a health
 * check in scripts) runs this file too: it reads package.json and nothing else, and the 4 MB blob
 * would take longer to load than the bundle's two small modules (30-40 ms more on the VM where page
 * faults cost ~10 us each; on a faster VM, bench/README.md's twelfth session, the blob is ~5 ms faster).
 * src/lab/binaries.ts (meshNodeFlags, meshSnapshotFlags) reads the flags back from that line.
 *
 * Finding the blob and checking its node runs on every start, so it uses only the shell's builtins
 * where it can (each external command costs ~5 ms here, `readlink`, `stat` and a subshell were 10 ms
 * of `mesh ca print`):
 * - the bundle's directory: the bin is usually reached through a symlink (npm's bin links, the
 *   image's /opt/mesh/bin), so the places those point to are tried first, each accepted only when
 *   `-ef` says it holds this very file; `readlink -f` otherwise;
 * - the node: the first executable `node` on the PATH, as exec will find it. mesh.blob.node holds the
 *   size and mtime of the node that built the blob, and build-snapshot.mjs gave the file that node's
 *   mtime: when neither is newer (`-nt`, `-ot`), it is the same node. That check is skipped when the
 *   recorded mtime is before 2000 (Nix stores and reproducible builds clamp every mtime, so it would
 *   not tell versions apart) and whenever it fails (a copied bundle gets new mtimes): then `stat`
 *   compares size and mtime.
 */
const NODE_FLAGS = ['--max-semi-space-size=1'];
const BUNDLE_LINKS = ['"${0%/*}"', '"${0%/*}/../dist/bundle"', '"${0%/*}/../mesh/dist/bundle"', '"${0%/*}/../lib/node_modules/mesh/dist/bundle"'];
const FIND_BLOB = [
  `[ -z "$NODE_OPTIONS" ] || return`,
  `for d in ${BUNDLE_LINKS.join(' ')} ''; do [ "$d/mesh.js" -ef "$0" ] && break; done`,
  `[ -n "$d" ] || { d=$(readlink -f "$0") && d=\${d%/*}; } || return`,
  `b=$d/mesh.blob f=$d/mesh.blob.node`,
  `case $1 in ${Object.keys(TOOL_COMMANDS).join(' | ')}) [ -f "$d/mesh-tools.blob" ] && b=$d/mesh-tools.blob ;; esac`,
  `[ -f "$b" ] && read -r s 2>/dev/null <"$f" || return`,
  `IFS=:`,
  `for n in $PATH; do n=\${n:-.}/node; [ -f "$n" ] && [ -x "$n" ] && break; n=; done`,
  `{ [ -n "$n" ] && ! [ "$f" -nt "$n" ] && ! [ "$f" -ot "$n" ] && [ "\${s#* }" -gt 946684800 ]; } 2>/dev/null || [ "$s" = "$(stat -L -c '%s %Y' "$(command -v node)" 2>/dev/null)" ]`,
];
const LAUNCHER = [
  '#!/bin/sh',
  `':' //; snapshot() { ${FIND_BLOB.join('; ')}; }; case "$#$1" in 1-v | 1--version) ;; *) snapshot "$1" && exec node ${NODE_FLAGS.join(' ')} --snapshot-blob "$b" "$0" "$@" ;; esac; exec node ${NODE_FLAGS.join(' ')} "$0" "$@"`,
  '',
].join('\n');

/**
 * Modules find files next to them (package.json, native/, lighthouse/web-assets) through
 * import.meta.url; in a chunk they keep the URL of their compiled file in dist/.
 */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      if (!args.path.startsWith(dist + sep)) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'js' };
      const own = relative(outdir, args.path).split(sep).join('/');
      return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`), loader: 'js' };
    });
  },
};

/**
 * `await import('commander')` of a CommonJS package: Node gives the module's properties as named exports
 * (`const { Command } = ...`), esbuild's split chunk only `default`. Each package imported that way goes
 * through a module that re-exports the properties by name, read from the package at build time.
 */
const requireFromRoot = createRequire(resolve(root, 'package.json'));

/** Whether esbuild bundles `file` as CommonJS: .cjs, or .js under a package.json without "type": "module". */
async function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = await readFile(resolve(dir, 'package.json'), 'utf8').catch(() => null);
    if (manifest !== null) return JSON.parse(manifest).type !== 'module';
  }
  return true;
}

const cjsNamedExports = {
  name: 'cjs-named-exports',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.kind !== 'dynamic-import' || args.path.startsWith('node:')) return undefined;
      const resolved = await b.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir });
      if (resolved.errors.length > 0 || !(await isCommonJs(resolved.path))) return undefined;
      const names = Object.keys(requireFromRoot(resolved.path)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      return { path: args.path, namespace: 'cjs-named-exports', pluginData: { names } };
    });
    b.onLoad({ filter: /.*/, namespace: 'cjs-named-exports' }, (args) => ({
      contents: `import m from ${JSON.stringify(args.path)};\nexport default m;\nexport const { ${args.pluginData.names.join(', ')} } = m;\n`,
      resolveDir: root,
      loader: 'js',
    }));
  },
};

/**
 * A start from a snapshot has no dynamic `import()` (Node 20: "A dynamic import callback was not
 * specified"), and esbuild keeps `import('node:http')` of a built-in as one. In the snapshot's
 * script each such built-in comes through a CommonJS module that requires it.
 */
const builtinsRequired = {
  name: 'builtins-required',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin-required' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin-required' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});\n`, loader: 'js' }));
  },
};

/**
 * Packages that neither `mesh node` nor `mesh ca` runs on unless asked (the enrollment service's TLS,
 * metrics, the lighthouse's DNS, STUN): in the snapshot's script each is a module that requires the
 * package on first use, from a file of its own next to the launcher (dist/bundle/<package>.cjs, the
 * package and its dependencies in one minified CommonJS file). Bundled into the script, their ~0.5 MB
 * of source would sit twice in every node's memory (the script's source string in the V8 heap, and in
 * the blob Node keeps) and be read at every start. Required from node_modules, the dozens of small
 * files cost more than the code: STUN, which every node with a lighthouse loads, took ~40 ms and
 * ~4 MiB of resident memory that way, ~18 ms and under 1 MiB from its one file (bench/README.md,
 * fourteenth session). Node 20's snapshot `require` loads built-ins only, so the module takes a
 * `require` made for the launcher's path. One evaluated while the snapshot is built throws, and the
 * build stops: a package the start path needs must stay in the script. The short-lived commands'
 * snapshot (src/cli/snapshot-tools.ts) leaves out the YAML and logging packages too, required from
 * node_modules: of those commands only `mesh ca serve` (a service) loads them.
 */
const LOADED_ON_FIRST_USE = ['node-forge', 'prom-client', 'dns-packet', 'stun'];
const TOOLS_LOADED_ON_FIRST_USE = [...LOADED_ON_FIRST_USE, 'js-yaml', 'pino'];

function loadedOnFirstUse(packages) {
  return {
    name: 'loaded-on-first-use',
    setup(b) {
      const filter = new RegExp(`^(${packages.join('|')})$`);
      b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'loaded-on-first-use' }));
      b.onLoad({ filter: /.*/, namespace: 'loaded-on-first-use' }, (args) => ({
        contents: [
          `if (!globalThis.__meshBundleUrl) throw new Error(${JSON.stringify(`${args.path} is loaded while the start-up snapshot is built: take it out of the packages loaded on first use in scripts/bundle.mjs`)});`,
          `module.exports = require('node:module').createRequire(globalThis.__meshBundleUrl)(${JSON.stringify(LOADED_ON_FIRST_USE.includes(args.path) ? `./${args.path}.cjs` : args.path)});`,
        ].join('\n'),
        loader: 'js',
      }));
    },
  };
}

// Chunk names carry content hashes: clear out the previous build's.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { mesh: resolve(dist, 'src/cli/bin.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  chunkNames: '[name]-[hash]',
  // CommonJS dependencies call require(); an ES module has none of its own. Made on first use:
  // createRequire in each of the chunks would cost more than the few calls to it.
  banner: {
    js: "import { createRequire as __meshCreateRequire } from 'node:module'; let __meshRequire; const require = Object.assign((id) => (__meshRequire ??= __meshCreateRequire(import.meta.url))(id), { resolve: (id, options) => (__meshRequire ??= __meshCreateRequire(import.meta.url)).resolve(id, options) });",
  },
  plugins: [keepModuleUrls, cjsNamedExports],
  logLevel: 'warning',
});

// The entry is package.json's bin: run through the launcher lines, which carry the V8 flags.
const entry = resolve(outdir, 'mesh.js');
const bundled = await readFile(entry, 'utf8');
await writeFile(entry, LAUNCHER + bundled.slice(bundled.startsWith('#!') ? bundled.indexOf('\n') + 1 : 0));
await chmod(entry, 0o755);

// Each package loaded on first use, in one file (see LOADED_ON_FIRST_USE).
for (const name of LOADED_ON_FIRST_USE) {
  await build({
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root, loader: 'js' },
    outfile: resolve(outdir, `${name}.cjs`),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    logLevel: 'warning',
  });
}

// The start-up snapshots' scripts: the whole CLI, and the short-lived commands alone, each in one
// CommonJS file (what `node --build-snapshot` takes), its `import.meta.url` being the launcher's,
// which src/cli/snapshot-start.ts sets when a run starts.
for (const [entry, script, packages] of [
  ['snapshot', 'mesh-snapshot.cjs', LOADED_ON_FIRST_USE],
  ['snapshot-tools', 'mesh-tools-snapshot.cjs', TOOLS_LOADED_ON_FIRST_USE],
]) {
  await build({
    entryPoints: [resolve(dist, `src/cli/${entry}.js`)],
    outfile: resolve(outdir, script),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    sourcemap: 'linked',
    define: { 'import.meta.url': 'globalThis.__meshBundleUrl' },
    plugins: [keepModuleUrls, builtinsRequired, loadedOnFirstUse(packages)],
    logLevel: 'warning',
  });
}
await import('./build-snapshot.mjs');
