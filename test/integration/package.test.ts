/**
 * The npm package as a user gets it (root only; skips with the reason otherwise): `npm pack` of this
 * checkout, then `npm install -g` of the tarball into a temporary prefix with npm's default settings
 * (the package's own install script runs: it finds the prebuilt addon, so no compiler is needed, and
 * builds the start-up snapshot for the installing node). From that install: `mesh --version`,
 * `mesh ca init`, the launcher's fallback to the plain bundle without the snapshot, and two nodes
 * with real TUN devices forming a tunnel.
 * The one install fetches the dependencies from the npm registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab } from '../../src/lab/overlay.js';
import { skipTest } from '../helpers/skip.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The environment without what an enclosing `npm test` sets (npm_config_*, npm_lifecycle_*, ...): npm's defaults. */
function plainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))), ...extra };
}

test('npm pack + npm install -g (default settings): prebuilt addon, mesh --version, mesh ca init, a tunnel over real TUN', { timeout: 600_000 }, async (t) => {
  const reason = await labSkipReason();
  if (reason) {
    skipTest(t, reason);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mesh-package-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = plainEnv({ npm_config_prefix: join(dir, 'prefix') });

  // prepack's prebuildify makes its node-gyp dev dir under TMPDIR (/tmp/prebuildify otherwise): ours goes with dir.
  // It also rebuilds in native/build and leaves no source build there: the suites after this one
  // (native-load among them) need it back, the very file that was there.
  const sourceBuild = join(REPO, 'native', 'build', 'Release', 'mesh_native.node');
  const saveDir = mkdtempSync(join(tmpdir(), 'mesh-package-build-'));
  const savedBuild = existsSync(sourceBuild) ? join(saveDir, 'mesh_native.node') : null;
  if (savedBuild) copyFileSync(sourceBuild, savedBuild);
  t.after(() => {
    if (savedBuild && !existsSync(sourceBuild)) {
      mkdirSync(dirname(sourceBuild), { recursive: true });
      copyFileSync(savedBuild, sourceBuild);
    }
    rmSync(saveDir, { recursive: true, force: true });
  });
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO, env: { ...env, TMPDIR: dir }, maxBuffer: 64 << 20, timeout: 300_000 });
  const manifest = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const files = manifest[0]!.files.map((f) => f.path);
  t.diagnostic(`tarball ${manifest[0]!.filename}: ${files.length} files`);

  await t.test('the tarball holds what runs and nothing else', () => {
    assert.ok(files.includes('dist/bundle/mesh.js'), 'the bundled CLI that package.json bin names');
    assert.ok(files.includes('native/binding.gyp'), 'the sources for a build where no prebuild fits');
    assert.ok(files.some((f) => /^native\/prebuilds\/linux-x64\/.*\.node$/.test(f)), `no linux-x64 prebuild in ${files.filter((f) => f.startsWith('native/')).join(', ')}`);
    assert.ok(files.includes('dist/bundle/mesh-snapshot.cjs') && files.includes('dist/bundle/mesh-tools-snapshot.cjs') && files.includes('scripts/build-snapshot.mjs'), 'what the install script builds the start-up snapshots from');
    const unwanted = files.filter((f) => /^dist\/(?!bundle\/)|\.map$|\.o$|^native\/build\/|\.ts$|\.blob/.test(f));
    assert.deepEqual(unwanted, []);
  });

  await run('npm', ['install', '-g', join(dir, manifest[0]!.filename)], { cwd: dir, env, maxBuffer: 64 << 20, timeout: 300_000 });
  const installed = join(dir, 'prefix', 'lib', 'node_modules', 'mesh');
  const mesh = join(dir, 'prefix', 'bin', 'mesh');

  /** The node command the installed launcher execs (its `sh -x` trace), and what the command printed. */
  const traced = async (args: string[]) => {
    const out = await run('sh', ['-x', mesh, ...args], { cwd: dir, env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }, timeout: 60_000 });
    return { stdout: out.stdout, exec: /^\+ (exec node .*)$/m.exec(out.stderr)?.[1] ?? '' };
  };

  await t.test('the install used the prebuilt addon and built the start-up snapshot', async () => {
    assert.equal(existsSync(join(installed, 'native', 'build')), false, 'a source build ran during the global install');
    assert.ok(readdirSync(join(installed, 'native', 'prebuilds', 'linux-x64')).some((f) => f.endsWith('.node')));
    assert.ok(existsSync(join(installed, 'dist', 'bundle', 'mesh.blob')), 'no snapshot built by the install script');
    assert.ok(existsSync(join(installed, 'dist', 'bundle', 'mesh-tools.blob')), "no short-lived commands' snapshot built by the install script");
    assert.match((await traced(['--help'])).exec, /--snapshot-blob \S*mesh\.blob /);
    assert.match((await traced(['ca', '--help'])).exec, /--snapshot-blob \S*mesh-tools\.blob /);
  });

  await t.test('mesh --version and mesh ca init from the install', async () => {
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal((await run(mesh, ['--version'], { cwd: dir, timeout: 60_000 })).stdout.trim(), version);
    await run(mesh, ['ca', 'init', '--name', 'Package CA', '--ips', '10.42.0.0/16'], { cwd: dir, timeout: 60_000 });
    const printed = JSON.parse((await run(mesh, ['ca', 'print', '--path', 'ca.crt', '--json'], { cwd: dir, timeout: 60_000 })).stdout) as { details: { name: string; isCa: boolean } };
    assert.equal(printed.details.name, 'Package CA');
    assert.equal(printed.details.isCa, true);
  });

  await t.test('two nodes of the install form a tunnel over real TUN devices', async () => {
    await withOverlayLab(t, { net: 35, namePrefix: 'mpk', meshBin: mesh }, async (lab) => {
      await lab.addHost('a');
      await lab.addHost('b');
      await lab.start('a');
      await lab.start('b');
      await lab.waitForPing('a', 'b', 30_000);
      await lab.waitForPing('b', 'a', 30_000);
      assert.match(lab.log('a'), /tunnel up/);
    });
  });

  await t.test('without its snapshots the installed bin runs the plain bundle; the install script makes them again', async () => {
    const blob = join(installed, 'dist', 'bundle', 'mesh.blob');
    const tools = join(installed, 'dist', 'bundle', 'mesh-tools.blob');
    rmSync(blob);
    rmSync(tools);
    const plain = await traced(['ca', 'print', '--path', 'ca.crt', '--json']);
    assert.ok(plain.exec.length > 0 && !plain.exec.includes('--snapshot-blob'), plain.exec);
    assert.equal((JSON.parse(plain.stdout) as { details: { name: string } }).details.name, 'Package CA');
    await run(process.execPath, [join(installed, 'scripts', 'build-snapshot.mjs')], { cwd: installed, timeout: 120_000 });
    assert.ok(existsSync(blob) && existsSync(tools));
    assert.match((await traced(['--help'])).exec, /--snapshot-blob \S*mesh\.blob /);
    assert.match((await traced(['ca', 'print', '--path', 'ca.crt', '--json'])).exec, /--snapshot-blob \S*mesh-tools\.blob /);
  });
});
