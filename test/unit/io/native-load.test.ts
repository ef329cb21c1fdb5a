/**
 * The source build of the native addon is loaded by its path, without node-gyp-build (issue 8,
 * start-up: loading that package and its directory scans cost ~3 ms of a node start).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skipTest } from '../../helpers/skip.js';
import { SOURCE_BUILD } from '../../../src/io/native.js';

const NATIVE_MODULE = new URL('../../../src/io/native.js', import.meta.url).href;
const SOURCE_BUILD_PATH = fileURLToPath(new URL(`../../../../native/${SOURCE_BUILD}`, import.meta.url));

/** What a fresh node has loaded after tryLoadNative(): its CommonJS modules, the files it maps, the error if any. */
function loadedAfterTryLoad(env: NodeJS.ProcessEnv = {}): { loaded: string[]; mapped: string; error: string | null } {
  const script = `import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const { tryLoadNative, nativeLoadError } = await import(${JSON.stringify(NATIVE_MODULE)});
const ok = Boolean(tryLoadNative());
console.log(JSON.stringify({ loaded: Object.keys(createRequire(import.meta.url).cache), mapped: readFileSync('/proc/self/maps', 'utf8'), error: ok ? null : nativeLoadError()?.message ?? 'undefined' }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, MESH_NATIVE_ADDON: '', ...env }, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as { loaded: string[]; mapped: string; error: string | null };
}

test('the source build loads by its path, node-gyp-build stays unloaded', (t) => {
  if (!existsSync(SOURCE_BUILD_PATH)) return skipTest(t, `no source build at ${SOURCE_BUILD_PATH}`);
  const { loaded, mapped, error } = loadedAfterTryLoad();
  assert.equal(error, null);
  assert.ok(mapped.includes(SOURCE_BUILD_PATH), 'the source build is mapped');
  assert.deepEqual(loaded.filter((file) => file.includes('node-gyp-build')), []);
});

test('MESH_NATIVE_ADDON still names the file to load', (t) => {
  if (!existsSync(SOURCE_BUILD_PATH)) return skipTest(t, `no source build at ${SOURCE_BUILD_PATH}`);
  const { error } = loadedAfterTryLoad({ MESH_NATIVE_ADDON: '/nonexistent/mesh_native.node' });
  assert.match(error ?? '', /failed to load/);
});
