/**
 * The bin's V8 start-up snapshots (scripts/build-snapshot.mjs, src/cli/snapshot.ts and
 * src/cli/snapshot-tools.ts): `npm run build` makes two blobs for the node binary that ran it, every
 * command's and the short-lived commands', the launcher starts from them only under that binary,
 * and runs the plain bundle when the blob is missing, stale or built by another node, and for a bare
 * `--version`. Which way it went is read from `sh -x`, the launcher's own trace of the command it execs.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { MESH_BIN, meshNodeFlags, meshSnapshotEnvironment, meshSnapshotFlags } from '../../../src/lab/binaries.js';
import { fixturePath, repoRoot } from '../pki/fixtures.js';

const VERSION = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;

/** PATH with `nodeDir` first: the `node` the launcher runs. */
function pathWith(nodeDir: string): string {
  return `${nodeDir}:${process.env.PATH ?? ''}`;
}

/** Runs the launcher `bin` through `sh -x`; what it printed and the node command it exec'd. */
function launch(
  bin: string,
  args: string[],
  options: { nodeDir?: string; cwd?: string; nodeOptions?: string; env?: Record<string, string> } = {},
): { status: number | null; stdout: string; stderr: string; exec: string; variables: string } {
  const run = spawnSync('sh', ['-x', bin, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    cwd: options.cwd,
    env: { ...process.env, ...options.env, PATH: pathWith(options.nodeDir ?? dirname(process.execPath)), NODE_OPTIONS: options.nodeOptions ?? '' },
  });
  // `+ [NAME=value ...] exec node ...`: the variables it sets apart from the exec.
  const traced = /^\+ ((?:\w+=\S* )*)(exec node .*)$/m.exec(run.stderr);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, exec: traced ? `+ ${traced[2]}` : '', variables: traced?.[1]?.trim() ?? '' };
}

/** The external commands the launcher ran before its exec (its `sh -x` trace): none on its fast path. */
function externalCommands(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => /^\++ (readlink|stat|command) /.test(line))
    .map((line) => line.replace(/^\++ /, '').split(' ')[0]!);
}

/** A copy of the package's runnable part in a fresh directory: package.json and dist/bundle. */
function copyOfBundle(t: { after(fn: () => void): void }): { dir: string; bin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-snapshot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'dist'));
  cpSync(join(repoRoot(), 'package.json'), join(dir, 'package.json'));
  cpSync(dirname(MESH_BIN), join(dir, 'dist', 'bundle'), { recursive: true, filter: (f) => !f.endsWith('.map') });
  return { dir, bin: join(dir, 'dist', 'bundle', 'mesh.js') };
}

test('npm run build made both blobs for this node; the launcher starts the short-lived commands from the small one', () => {
  const blob = join(dirname(MESH_BIN), 'mesh.blob');
  assert.ok(existsSync(blob) && existsSync(`${blob}.node`), 'the build made mesh.blob and its fingerprint');
  assert.ok(existsSync(join(dirname(MESH_BIN), 'mesh-tools.blob')), 'the build made mesh-tools.blob');
  const printed = launch(MESH_BIN, ['ca', 'print', '--json', '--path', fixturePath('ca.crt')]);
  assert.equal(printed.status, 0, printed.stderr);
  assert.match(printed.exec, /--snapshot-blob \S*mesh-tools\.blob /);
  assert.equal((JSON.parse(printed.stdout) as { details: { isCa: boolean } }).details.isCa, true);
  for (const command of ['status', 'ping', 'reload']) {
    const help = launch(MESH_BIN, [command, '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^Usage: mesh ${command} `));
    assert.match(help.exec, /--snapshot-blob \S*mesh-tools\.blob /, command);
  }
  // The lab starts nodes the same way under this node binary.
  assert.deepEqual(meshSnapshotFlags(), ['--snapshot-blob', blob]);
  for (const args of [['--help'], ['node', '--help'], ['join', '--help'], ['--log-format', 'json', 'ca', '--help']]) {
    const run = launch(MESH_BIN, args);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Usage: mesh /);
    assert.match(run.exec, /--snapshot-blob \S*mesh\.blob /, args.join(' '));
  }
});

test("the short-lived commands' blob holds none of the daemons' code", () => {
  const tools = readFileSync(join(dirname(MESH_BIN), 'mesh-tools-snapshot.cjs'), 'utf8');
  const all = readFileSync(join(dirname(MESH_BIN), 'mesh-snapshot.cjs'), 'utf8');
  // Log lines of the node and the lighthouse: in the whole CLI's script, not in this one.
  for (const text of ['mesh node started', 'tunnel up']) {
    assert.ok(all.includes(text), `mesh-snapshot.cjs has "${text}"`);
    assert.ok(!tools.includes(text), `mesh-tools-snapshot.cjs has no "${text}"`);
  }
  // Nor the YAML and logging packages, which only `mesh ca serve` and --config load.
  for (const name of ['js-yaml', 'pino']) {
    assert.ok(tools.includes(`createRequire(globalThis.__meshBundleUrl)(${JSON.stringify(name)})`), `${name} is required on first use`);
  }
  assert.doesNotMatch(tools, /\bimport\(/);
  assert.ok(readFileSync(join(dirname(MESH_BIN), 'mesh-tools.blob')).length < readFileSync(join(dirname(MESH_BIN), 'mesh.blob')).length - 500_000);
});

test("through npm's bin links and the image's, the launcher finds the blob and checks its node with shell builtins alone", (t) => {
  // The layouts the launcher tries before `readlink -f`: npm -g (<prefix>/bin/mesh ->
  // ../lib/node_modules/mesh/dist/bundle/mesh.js), a local node_modules/.bin, the image's /opt/mesh/bin.
  const dir = mkdtempSync(join(tmpdir(), 'mesh-links-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = dirname(dirname(dirname(MESH_BIN)));
  mkdirSync(join(dir, 'global', 'bin'), { recursive: true });
  mkdirSync(join(dir, 'global', 'lib', 'node_modules'), { recursive: true });
  symlinkSync(pkg, join(dir, 'global', 'lib', 'node_modules', 'mesh'));
  symlinkSync('../lib/node_modules/mesh/dist/bundle/mesh.js', join(dir, 'global', 'bin', 'mesh'));
  mkdirSync(join(dir, 'local', 'node_modules', '.bin'), { recursive: true });
  symlinkSync(pkg, join(dir, 'local', 'node_modules', 'mesh'));
  symlinkSync('../mesh/dist/bundle/mesh.js', join(dir, 'local', 'node_modules', '.bin', 'mesh'));
  mkdirSync(join(dir, 'image', 'bin'), { recursive: true });
  symlinkSync(join(pkg, 'dist'), join(dir, 'image', 'dist'));
  symlinkSync('../dist/bundle/mesh.js', join(dir, 'image', 'bin', 'mesh'));
  const printArgs = ['ca', 'print', '--json', '--path', fixturePath('ca.crt')];
  for (const bin of [MESH_BIN, join(dir, 'global', 'bin', 'mesh'), join(dir, 'local', 'node_modules', '.bin', 'mesh'), join(dir, 'image', 'bin', 'mesh')]) {
    const run = launch(bin, printArgs);
    assert.equal(run.status, 0, `${bin}: ${run.stderr}`);
    assert.match(run.exec, /--snapshot-blob \S*mesh-tools\.blob /, bin);
    assert.deepEqual(externalCommands(run.stderr), [], `${bin}: ${run.stderr}`);
  }
  // Any other link: found through readlink, the node still checked without stat.
  symlinkSync(MESH_BIN, join(dir, 'elsewhere'));
  const other = launch(join(dir, 'elsewhere'), printArgs);
  assert.equal(other.status, 0, other.stderr);
  assert.match(other.exec, /--snapshot-blob/);
  assert.deepEqual(externalCommands(other.stderr), ['readlink']);
});

test('a bare --version (or -v) runs the plain bundle: the blob would cost more to load than it saves', () => {
  for (const flag of ['--version', '-v']) {
    const run = launch(MESH_BIN, [flag]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), VERSION);
    assert.equal(run.exec, `+ exec node ${meshNodeFlags().join(' ')} ${MESH_BIN} ${flag}`);
  }
  // Only alone: `mesh ca init --version 2` is nebula-cert's format flag, on the snapshot's path.
  const withCommand = launch(MESH_BIN, ['ca', 'init', '--help', '--version', '2']);
  assert.equal(withCommand.status, 0, withCommand.stderr);
  assert.match(withCommand.exec, /--snapshot-blob/);
});

test("the blobs carry no code cache of Node's built-ins: each ends with that vector, empty", () => {
  for (const name of ['mesh.blob', 'mesh-tools.blob']) {
    const blob = readFileSync(join(dirname(MESH_BIN), name));
    // An untrimmed blob ends with the last built-in's cache data (2.9 MB of them in all for Node 20).
    assert.ok(blob.subarray(-8).equals(Buffer.alloc(8)), `${name}: the code-cache count at the end is 0`);
  }
});

test('with V8 flags in NODE_OPTIONS (which make node refuse the blob) the launcher runs the plain bundle', () => {
  const run = launch(MESH_BIN, ['ca', 'print', '--json', '--path', fixturePath('ca.crt')], { nodeOptions: '--max-old-space-size=512' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal((JSON.parse(run.stdout) as { details: { isCa: boolean } }).details.isCa, true);
  assert.ok(run.exec !== '' && !/--snapshot-blob/.test(run.exec), run.exec);
});

test("the snapshot's script has no dynamic import(), which a start from a snapshot cannot run", () => {
  // Node 20 fails such an import() with "A dynamic import callback was not specified" (the metrics
  // server's lazy node:http did, until the bundle turned it into a require).
  const script = readFileSync(join(dirname(MESH_BIN), 'mesh-snapshot.cjs'), 'utf8');
  assert.ok(script.includes('require("node:http")'), 'the lazily loaded built-ins are required');
  assert.doesNotMatch(script, /\bimport\(/);
  // `mesh status --config` loads the config's modules from the small blob's script.
  const run = launch(MESH_BIN, ['status', '--config', join(repoRoot(), 'examples', 'config.yml')]);
  assert.match(run.exec, /mesh-tools\.blob/);
  assert.match(run.stderr, /Error: cannot reach the node's control socket|no node is running/, run.stderr);
});

test('the snapshot keeps no randomness: two CAs made from it have different keys', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-snapshot-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keys: string[] = [];
  for (const name of ['one', 'two']) {
    mkdirSync(join(dir, name));
    const made = launch(MESH_BIN, ['ca', 'init', '--name', name], { cwd: join(dir, name) });
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.exec, /--snapshot-blob/);
    keys.push(readFileSync(join(dir, name, 'ca.key'), 'utf8'));
  }
  assert.notEqual(keys[0], keys[1]);
});

/**
 * Starts `mesh --version` from `blob` with `probe` (a CommonJS script) required first, right after
 * the snapshot is deserialised; what the run wrote to stderr.
 */
function probeBlob(blob: string, probe: string, nodeFlags: string[] = []): string {
  const run = spawnSync(process.execPath, [...meshNodeFlags(), '--snapshot-blob', join(dirname(MESH_BIN), blob), ...nodeFlags, '--require', probe, MESH_BIN, '--version'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stderr;
}

/** A probe script of `source` in a fresh directory removed after the test. */
function probeScript(t: { after(fn: () => void): void }, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-snapshot-probe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'probe.cjs'), source);
  return join(dir, 'probe.cjs');
}

test("the snapshots keep no random state: node:crypto's randomInt and randomUUID caches and Math.random differ in every start", (t) => {
  // randomInt draws from a 6 KB cache inside node:crypto (randomUUID from one of its own): filled
  // while a snapshot is built (by the build's in-memory tunnel, say), it would hand every process
  // started from the blob the same numbers (it did: the name tables' epochs, the Docker DNS
  // forwarder's query IDs).
  const probe = probeScript(t, "const c = require('node:crypto'); process.stderr.write(`draw ${c.randomInt(2 ** 47)} ${Math.random()} ${c.randomUUID()}\\n`);\n");
  for (const blob of ['mesh.blob', 'mesh-tools.blob']) {
    const draws = [0, 1].map(() => {
      const stderr = probeBlob(blob, probe);
      const draw = /^draw (\d+) (\S+) (\S+)$/m.exec(stderr);
      assert.ok(draw, stderr);
      return draw.slice(1);
    });
    assert.notEqual(draws[0]![0], draws[1]![0], `${blob}: randomInt`);
    assert.notEqual(draws[0]![1], draws[1]![1], `${blob}: Math.random`);
    assert.notEqual(draws[0]![2], draws[1]![2], `${blob}: randomUUID`);
  }
});

test("the snapshots hold none of Node's timer lists", (t) => {
  // A timer run while a snapshot is built leaves its (emptied) list in node's timer map, with the
  // build's expiry: a timer of that duration set after a start from the blob joins the stale list
  // and arms nothing, so it fires only when some other timer wakes the loop (a node's start run at
  // build time did that, and the Docker shim's 100 ms settle timers stalled).
  const probe = probeScript(
    t,
    "const { timerListMap, timerListQueue } = require('internal/timers');\n" +
      "process.stderr.write(`timer lists: ${Object.keys(timerListMap).join(',')}; queued: ${timerListQueue.peek() !== undefined}\\n`);\n",
  );
  for (const blob of ['mesh.blob', 'mesh-tools.blob']) {
    const stderr = probeBlob(blob, probe, ['--expose-internals']);
    assert.match(stderr, /^timer lists: ; queued: false$/m, `${blob}: ${stderr}`);
  }
});

test("a start from a blob sets no environment of its own: the user's GLIBC_TUNABLES pass through as they are", () => {
  // Until 2df1b58 it set glibc.malloc.hugetlb=1: malloc's heap then grew in 2 MiB huge pages, and a
  // node held up to 2 MiB more when idle in about half its starts (bench/README.md, fifteenth session).
  const fromBlob = launch(MESH_BIN, ['node', '--help'], { env: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' } });
  assert.match(fromBlob.exec, /--snapshot-blob /);
  assert.equal(fromBlob.variables, '');
  assert.deepEqual(meshSnapshotEnvironment(), []);
  const plain = launch(MESH_BIN, ['--version']);
  assert.doesNotMatch(plain.exec, /--snapshot-blob/);
  assert.equal(plain.variables, '');
});

test('mesh.blob holds cluster, which the control socket\'s listen would otherwise compile right after the TUN is up', (t) => {
  const probe = probeScript(t, "process.stderr.write(`cluster loaded: ${process.moduleLoadList.includes('NativeModule cluster')}\\n`);\n");
  assert.match(probeBlob('mesh.blob', probe), /^cluster loaded: true$/m);
});

test('a node binary other than the one that built the blob runs the plain bundle', (t) => {
  // Another `node` first on the PATH: a wrapper script, so a file with another fingerprint.
  const dir = mkdtempSync(join(tmpdir(), 'mesh-other-node-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'node'), `#!/bin/sh\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
  const run = launch(MESH_BIN, ['--help'], { nodeDir: dir });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /Usage: mesh /);
  assert.equal(run.exec, `+ exec node ${meshNodeFlags().join(' ')} ${MESH_BIN} --help`);
  assert.deepEqual(meshSnapshotFlags(MESH_BIN, join(dir, 'node')), []);
});

test('a moved bundle starts from its blob; without the blob or with a stale fingerprint it runs the plain bundle', (t) => {
  const { bin } = copyOfBundle(t);
  const blob = join(dirname(bin), 'mesh.blob');
  const printArgs = ['ca', 'print', '--json', '--path', fixturePath('ca.crt')];
  const check = (expectSnapshot: boolean, what: string) => {
    for (const args of [['--help'], printArgs]) {
      const run = launch(bin, args);
      assert.equal(run.status, 0, `${what}: ${run.stderr}`);
      assert.ok(run.stdout.length > 0, what);
      assert.equal(/--snapshot-blob/.test(run.exec), expectSnapshot, `${what}: ${run.exec}`);
      assert.ok(run.exec.length > 0, `${what}: no exec in the trace`);
    }
  };
  check(true, 'copied blob');
  // The copy's fingerprint file has a new mtime: its node is checked with stat instead.
  assert.ok(externalCommands(launch(bin, printArgs).stderr).includes('stat'), 'stat checks the node of a copied blob');
  assert.equal(launch(bin, ['--version']).stdout.trim(), VERSION, 'package.json found from the copy');

  // A node whose mtime says nothing (Nix stores and reproducible builds clamp it): the mtimes are
  // equal but the fingerprint's size is another node's, and stat (not the mtimes) decides.
  const fingerprintNow = readFileSync(`${blob}.node`, 'utf8');
  writeFileSync(`${blob}.node`, `${fingerprintNow.split(' ')[0]}0 1\n`);
  utimesSync(`${blob}.node`, 1, 1);
  utimesSync(blob, 1, 1);
  const clampedNode = mkdtempSync(join(tmpdir(), 'mesh-clamped-node-'));
  t.after(() => rmSync(clampedNode, { recursive: true, force: true }));
  writeFileSync(join(clampedNode, 'node'), `#!/bin/sh\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
  utimesSync(join(clampedNode, 'node'), 1, 1);
  const clamped = launch(bin, printArgs, { nodeDir: clampedNode });
  assert.equal(clamped.status, 0, clamped.stderr);
  assert.doesNotMatch(clamped.exec, /--snapshot-blob/);
  assert.ok(externalCommands(clamped.stderr).includes('stat'), clamped.stderr);
  writeFileSync(`${blob}.node`, fingerprintNow);

  const fingerprint = readFileSync(`${blob}.node`, 'utf8');
  writeFileSync(`${blob}.node`, '1 2\n');
  check(false, 'stale fingerprint');
  assert.deepEqual(meshSnapshotFlags(bin), []);
  rmSync(`${blob}.node`);
  check(false, 'no fingerprint');
  writeFileSync(`${blob}.node`, fingerprint);
  // Without the small blob the short-lived commands start from the other one.
  const tools = join(dirname(bin), 'mesh-tools.blob');
  rmSync(tools);
  const withoutTools = launch(bin, printArgs);
  assert.equal(withoutTools.status, 0, withoutTools.stderr);
  assert.match(withoutTools.exec, /--snapshot-blob \S*mesh\.blob /);
  rmSync(blob);
  check(false, 'no blob');
  assert.deepEqual(meshSnapshotFlags(bin), []);
});

test('build-snapshot.mjs replaces a stale blob, and makes none (the launcher runs the bundle) when the build fails', (t) => {
  const { dir, bin } = copyOfBundle(t);
  const blob = join(dirname(bin), 'mesh.blob');
  mkdirSync(join(dir, 'scripts'));
  cpSync(join(repoRoot(), 'scripts', 'build-snapshot.mjs'), join(dir, 'scripts', 'build-snapshot.mjs'));
  const tools = join(dirname(bin), 'mesh-tools.blob');
  writeFileSync(blob, 'not a snapshot');
  writeFileSync(`${blob}.node`, '1 2\n');
  const build = () => spawnSync(process.execPath, [join(dir, 'scripts', 'build-snapshot.mjs')], { encoding: 'utf8', timeout: 60_000 });
  const rebuilt = build();
  assert.equal(rebuilt.status, 0, rebuilt.stderr);
  assert.match(launch(bin, ['--help']).exec, /--snapshot-blob \S*mesh\.blob /);
  assert.match(launch(bin, ['ca', '--help']).exec, /--snapshot-blob \S*mesh-tools\.blob /);

  // The small blob's script throws: the other blob is made, and serves the short-lived commands too.
  const toolsScript = join(dirname(bin), 'mesh-tools-snapshot.cjs');
  const toolsSource = readFileSync(toolsScript, 'utf8');
  writeFileSync(toolsScript, "throw new Error('broken snapshot script');\n");
  const halfBuilt = build();
  assert.equal(halfBuilt.status, 0, halfBuilt.stderr);
  assert.match(halfBuilt.stderr, /no start-up snapshot \S*mesh-tools\.blob/);
  assert.ok(existsSync(blob) && existsSync(`${blob}.node`) && !existsSync(tools));
  const ca = launch(bin, ['ca', '--help']);
  assert.equal(ca.status, 0, ca.stderr);
  assert.match(ca.exec, /--snapshot-blob \S*mesh\.blob /);
  writeFileSync(toolsScript, toolsSource);

  // A snapshot script that throws: no blob, no fingerprint, a warning, and the bin still runs.
  writeFileSync(join(dirname(bin), 'mesh-snapshot.cjs'), "throw new Error('broken snapshot script');\n");
  const failed = build();
  assert.equal(failed.status, 0, 'a failed snapshot does not fail the install');
  assert.match(failed.stderr, /no start-up snapshot/);
  assert.equal(existsSync(blob) || existsSync(`${blob}.node`) || existsSync(tools), false);
  const run = launch(bin, ['--help']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /Usage: mesh /);
  assert.doesNotMatch(run.exec, /--snapshot-blob/);
});

test("the packages a start does not run on are required on first use, each from its own file, not carried in the snapshot's script", () => {
  const script = readFileSync(join(dirname(MESH_BIN), 'mesh-snapshot.cjs'), 'utf8');
  const fromBundle = createRequire(MESH_BIN);
  const fromPackage = createRequire(import.meta.url);
  for (const name of ['node-forge', 'prom-client', 'dns-packet', 'stun']) {
    assert.ok(script.includes(`createRequire(globalThis.__meshBundleUrl)(${JSON.stringify(`./${name}.cjs`)})`), `${name} is required on first use`);
    // The one file is the whole package: the same exports as from node_modules.
    assert.deepEqual(Object.keys(fromBundle(`./${name}.cjs`)).sort(), Object.keys(fromPackage(name)).sort(), `${name}.cjs exports the package`);
  }
  // node-forge's X.509 and TLS code (only the enrollment service's) is not in the script.
  assert.doesNotMatch(script, /certificationRequestFromAsn1/);
});
