/**
 * releaseMemory(): V8's low-memory collection, looked up by name in the running node (N-API has no
 * such call), then malloc_trim. Run in a child so that its collection and heap are its own.
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
