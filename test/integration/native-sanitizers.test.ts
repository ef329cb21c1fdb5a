/**
 * The native addon under AddressSanitizer and UndefinedBehaviorSanitizer. A second build of
 * native/ with `-fsanitize=address,undefined` (g++'s runtimes, in a temp directory; the addon
 * `npm install` built is not touched) is loaded through MESH_NATIVE_ADDON into a `node --test` run
 * of every suite that drives it: the segmenter and coalescer on crafted, malformed and randomly
 * corrupted frames, the fast path on hostile datagrams and packets, the AEAD, batched UDP with GSO
 * and GRO, the real TUN device, a node whose TUN device is deleted or whose netlink and recvmmsg
 * fail (the fault library is preloaded after the sanitizer's runtime), the robustness suite's UDP
 * blast at a live node, and 100 MiB of TCP between two nodes over real TUN devices (their
 * processes inherit the environment). A read or write out of bounds, a use after free or undefined
 * behaviour that the plain build survives silently stops that run with the sanitizer's report, and
 * this test fails with it.
 *
 * The test entry points copy each input into an allocation of exactly its size (native/src/common.h,
 * UseExactCopies), so a read past an input's end is reported, not hidden in a larger buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsSkipReason, run } from '../../src/lab/netns.js';
import { skipTest } from '../helpers/skip.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const suite = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** The suites that drive the addon (compiled paths, relative to dist/test). */
const SUITES = [
  'unit/io/offload.test.js',
  'unit/io/udp.test.js',
  'unit/io/native-load.test.js',
  'unit/io/native-memory.test.js',
  'unit/node/fast-path.test.js',
  'unit/node/tunnel.test.js',
  'unit/protocol/aead-native.test.js',
  'unit/protocol/aead-batch.test.js',
  'integration/tun.test.js',
  'integration/faults.test.js',
  'integration/udp.test.js',
  'integration/robustness.test.js',
  'integration/tunnel-mesh.test.js',
];

const SANITIZE = '-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g';

/** What a sanitizer prints when it stops a process. */
const REPORT = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|AddressSanitizer:DEADLYSIGNAL/;

/** The node headers the installed addon was built against (node-gyp records them), so this build needs no download. */
function nodedirOfInstalledBuild(): string[] {
  const gypi = join(repo, 'native/build/config.gypi');
  const dir = existsSync(gypi) ? /"nodedir": "([^"]+)"/.exec(readFileSync(gypi, 'utf8'))?.[1] : undefined;
  return dir ? [`--nodedir=${dir}`] : [];
}

/** The lines around the first sanitizer report; else those of the first failed tests (with their error); else the output's tail. */
function excerpt(output: string): string {
  const lines = output.split('\n');
  const at = lines.findIndex((line) => REPORT.test(line));
  if (at >= 0) return lines.slice(Math.max(0, at - 5), at + 40).join('\n');
  const failed = lines.flatMap((line, i) => (/^\s*not ok /.test(line) ? [lines.slice(i, i + 40).join('\n')] : []));
  return failed.length > 0 ? failed.slice(0, 3).join('\n...\n') : lines.slice(-60).join('\n');
}

test('the native addon built with ASan and UBSan runs every suite that drives it without a report', { timeout: 900_000 }, async (t) => {
  const libasan = (await run('g++', ['-print-file-name=libasan.so']).catch(() => null))?.stdout.trim();
  const reason = !libasan || !libasan.startsWith('/') || !existsSync(libasan) ? 'g++ with libasan is needed (apt-get install g++)' : netnsSkipReason();
  if (reason) {
    skipTest(t, reason);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mesh-sanitized-addon-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(repo, 'native/src'), join(dir, 'src'), { recursive: true });
  cpSync(join(repo, 'native/binding.gyp'), join(dir, 'binding.gyp'));
  // binding.gyp asks node for node-addon-api's paths from the build directory. A copy, not a link:
  // gyp writes the dependency's makefiles at its real path taken relative to the build directory,
  // which for a link would land outside the temp directory.
  cpSync(join(repo, 'node_modules/node-addon-api'), join(dir, 'node_modules/node-addon-api'), { recursive: true });

  // npm puts its node-gyp on the path of scripts and names it in npm_config_node_gyp.
  const nodeGyp = process.env.npm_config_node_gyp;
  const [gyp, gypArgs] = nodeGyp ? [process.execPath, [nodeGyp]] : ['node-gyp', []];
  const build = await run(gyp, [...gypArgs, 'rebuild', `--directory=${dir}`, ...nodedirOfInstalledBuild()], {
    env: { ...process.env, CXXFLAGS: SANITIZE, LDFLAGS: '-fsanitize=address,undefined' },
    timeoutMs: 300_000,
  });
  assert.equal(build.code, 0, `the sanitized build failed:\n${(build.stdout + build.stderr).slice(-3000)}`);
  const addon = join(dir, 'build/Release/mesh_native.node');

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The runtime first in every process of the run (node is not built with it; the addon is).
    LD_PRELOAD: libasan,
    MESH_NATIVE_ADDON: addon,
    // Node's own allocations live until exit by design: no leak report. A smaller quarantine keeps
    // the memory suites' RSS bounds (freed memory still waits there before reuse).
    ASAN_OPTIONS: 'detect_leaks=0:quarantine_size_mb=16:halt_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  };
  delete env.NODE_OPTIONS;
  // Set by the test runner in the processes it starts: a child `node --test` would run no files.
  delete env.NODE_TEST_CONTEXT;

  // The run below must use this build: the module loader's view of the addon says so.
  const probe = await run(process.execPath, ['--input-type=module', '-e', `
    const { loadNative } = await import(${JSON.stringify(join(repo, 'dist/src/io/native.js'))});
    loadNative();
    const { readFileSync } = await import('node:fs');
    const maps = readFileSync('/proc/self/maps', 'utf8');
    console.log(JSON.stringify({ addon: maps.includes(${JSON.stringify(addon)}), asan: /libasan/.test(maps) }));
  `], { env, timeoutMs: 60_000 });
  assert.equal(probe.code, 0, probe.stdout + probe.stderr);
  assert.deepEqual(JSON.parse(probe.stdout.trim().split('\n').pop()!), { addon: true, asan: true }, probe.stdout + probe.stderr);

  const files = SUITES.map(suite);
  const result = await run(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=600000', ...files], { env, timeoutMs: 840_000 });
  const output = result.stdout + result.stderr;
  const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
  t.diagnostic(`sanitized run: ${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped`);
  assert.doesNotMatch(output, REPORT, excerpt(output));
  assert.equal(result.code, 0, excerpt(output));
  assert.equal(count('fail'), 0, excerpt(output));
  assert.ok(count('pass') > 50, `only ${count('pass')} tests ran:\n${excerpt(output)}`);
});
