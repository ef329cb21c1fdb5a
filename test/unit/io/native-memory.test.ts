/**
 * The addon's memory calls, each run in a child so that its heap and settings are its own:
 * releaseMemory(), V8's low-memory collection, looked up by name in the running node (N-API has no
 * such call), then malloc_trim; disableHugePages(), prctl(PR_SET_THP_DISABLE).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const NATIVE_MODULE = new URL('../../../src/io/native.js', import.meta.url).href;

test('releaseMemory collects the garbage V8 holds and trims the malloc heap', () => {
  const script = `const { loadNative } = await import(${JSON.stringify(NATIVE_MODULE)});
const addon = loadNative();
let garbage = Array.from({ length: 200000 }, (_, i) => ({ i, text: 'x' + i, bytes: Buffer.alloc(64) }));
const before = process.memoryUsage().heapUsed;
garbage = null;
const trimmed = addon.releaseMemory();
console.log(JSON.stringify({ before, after: process.memoryUsage().heapUsed, trimmed }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, MESH_NATIVE_ADDON: '' }, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const { before, after, trimmed } = JSON.parse(run.stdout) as { before: number; after: number; trimmed: boolean };
  // 200,000 objects with their strings: tens of MB, collected by the call itself (no allocation since).
  assert.ok(after < before - 10 * 1024 * 1024, `heap ${before} -> ${after} bytes`);
  assert.equal(typeof trimmed, 'boolean');
});

test('disableHugePages keeps the process, and the processes it starts, off transparent huge pages', () => {
  const script = `const { readFileSync } = await import('node:fs');
const { execFileSync } = await import('node:child_process');
const { loadNative } = await import(${JSON.stringify(NATIVE_MODULE)});
const thp = (status) => /^THP_enabled:\\s+(\\d)$/m.exec(status)?.[1];
const before = thp(readFileSync('/proc/self/status', 'utf8'));
const taken = loadNative().disableHugePages();
const after = thp(readFileSync('/proc/self/status', 'utf8'));
const child = thp(execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' }));
console.log(JSON.stringify({ before, taken, after, child }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, MESH_NATIVE_ADDON: '' }, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { before: '1', taken: true, after: '0', child: '0' });
});
