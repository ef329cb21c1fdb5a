/**
 * The benchmarks answer `--help` with their usage (exit 0) and a wrong option with an error and the
 * usage (exit 2), not with a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BENCHES = ['aead', 'flood', 'lighthouse', 'lighthouse-e2e', 'tunnel'];

for (const name of BENCHES) {
  const script = fileURLToPath(new URL(`../../../bench/${name}.js`, import.meta.url));

  test(`bench/${name}: --help prints the usage and exits 0`, () => {
    const run = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^usage: /);
  });

  test(`bench/${name}: an unknown option is an error with the usage, exit 2`, () => {
    const run = spawnSync(process.execPath, [script, '--no-such-option'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--no-such-option/);
    assert.match(run.stderr, /usage: /);
    assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
  });
}
