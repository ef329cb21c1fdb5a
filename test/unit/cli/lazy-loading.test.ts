/**
 * A run of the bundled CLI loads only what it uses (issue 8, start-up): the chunks each command
 * loads are logged by a module hook, and the packages inside them are read from the chunks'
 * source maps (built next to them by scripts/bundle.mjs, not shipped). This is the plain bundle,
 * which the launcher runs when there is no start-up snapshot for its node (snapshot.test.ts): a
 * start from the snapshot loads no module at all, its modules being in the blob.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { MESH_BIN, meshNodeFlags } from '../../../src/lab/binaries.js';
import { fixturePath } from '../pki/fixtures.js';

/** Runs the bin with `args` under a load hook; the packages and files of the chunks it loaded. */
export function loadedBy(args: string[]): { status: number | null; sources: Set<string> } {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-lazy-'));
  try {
    const log = join(dir, 'loaded.txt');
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  if (url.startsWith('file:')) appendFileSync(${JSON.stringify(log)}, url + '\\n');\n  return next(url, context);\n}\n`);
    const register = join(dir, 'register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    writeFileSync(log, '');
    // meshNodeFlags without meshSnapshotFlags: the plain bundle, whose module loads the hook sees.
    const run = spawnSync(process.execPath, [...meshNodeFlags(), '--import', pathToFileURL(register).href, MESH_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
    const sources = new Set<string>();
    for (const url of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      const map = JSON.parse(readFileSync(new URL(`${url}.map`), 'utf8')) as { sources: string[] };
      for (const source of map.sources) {
        // A dependency by its package name and by its file (node-forge/lib/pem.js), mesh's own by path.
        const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(source);
        if (dependency) sources.add(dependency[1]!).add(`${dependency[1]}/${dependency[2]}`);
        else sources.add(source.replace(/^(\.\.\/)+/, ''));
      }
    }
    return { status: run.status, sources };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NODE_ONLY = ['js-yaml', 'pino', 'prom-client', 'stun', 'dns-packet', 'cytoscape'];

test('mesh --version loads neither the command line parser nor any command', () => {
  const { status, sources } = loadedBy(['--version']);
  assert.equal(status, 0);
  assert.ok(sources.has('src/cli/main.ts'), 'the loader sees the chunks');
  for (const unwanted of ['commander', 'protobufjs', '@noble/curves', 'node-forge', ...NODE_ONLY]) assert.ok(!sources.has(unwanted), unwanted);
  // The command tables (commands.ts, tool-commands.ts) hold only the lazy imports of the commands.
  assert.deepEqual([...sources].filter((s) => /^(dist\/)?(src|pki|lighthouse)\//.test(s) && !/(cli\/(bin|main|commands|tool-commands)|errors)\.[jt]s$/.test(s)), []);
});

test('mesh ca print loads the certificate codec, not the node, the logger or all of node-forge', () => {
  const { status, sources } = loadedBy(['ca', 'print', '--path', fixturePath('ca.crt')]);
  assert.equal(status, 0);
  assert.ok(sources.has('protobufjs/minimal.js') && sources.has('pki/cert.pb.js') && sources.has('pki/cert.ts'), 'the codec it needs');
  // Static code on protobufjs's minimal build: neither its .proto parser nor its reflection.
  assert.ok(!sources.has('protobufjs/src/parse.js') && !sources.has('protobufjs/src/type.js'), 'protobufjs reflection');
  for (const unwanted of NODE_ONLY) assert.ok(!sources.has(unwanted), unwanted);
  assert.ok(![...sources].some((s) => s.startsWith('src/node/') || s.startsWith('src/io/') || s.startsWith('lighthouse/')), [...sources].join(' '));
  assert.ok(!sources.has('node-forge/lib/index.js') && !sources.has('node-forge/lib/rsa.js'));
});
