/**
 * Faults from outside the process end cleanly (root only; skips with the reason otherwise, fails
 * under MESH_REQUIRE_ALL_TESTS=1): a mesh node whose TUN device is deleted logs it and exits 1,
 * without an uncaught exception. Kernel faults the lab cannot cause (recvmmsg errors, a netlink that
 * does not answer or answers garbage) come from a small LD_PRELOAD library (test/helpers/fault-preload.ts)
 * in the node's process: the node's code is the production code, with no test hooks.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab } from '../../src/lab/overlay.js';
import { pollUntil, sleep } from '../../src/lab/wait.js';
import { buildFaultPreload, type FaultPreload } from '../helpers/fault-preload.js';
import { skipTest } from '../helpers/skip.js';

test('mesh node: large socket buffers by default; `ip link del` of its TUN device is logged and ends the node with exit 1', { timeout: 60_000 }, async (t) => {
  const reason = await labSkipReason();
  if (reason) return skipTest(t, reason);
  await withOverlayLab(t, { net: 25 }, async (lab) => {
    const a = await lab.addHost('a');
    await lab.start('a');
    await lab.lab.execOk(a.ns, 'ip', ['link', 'del', a.tunDev]);
    const exit = await pollUntil(() => a.exit, 20_000, () => `node a still runs after its TUN device was deleted:\n${lab.logTail('a')}`);
    const log = lab.log('a');
    assert.deepEqual(exit, { code: 1, signal: null }, log);
    // As root the default 8 MiB socket buffers are granted in full (Linux reports twice the size).
    assert.match(log, /msg="UDP socket buffers" readBuffer=16777216 writeBuffer=16777216/);
    assert.match(log, /the TUN device is gone \(deleted\?\), stopping/);
    assert.match(log, /mesh node stopped/);
    assert.match(log, new RegExp(`Error: TUN device ${a.tunDev} is gone \\(tun: read from ${a.tunDev}: .+\\); mesh stopped`));
    assert.doesNotMatch(log, /uncaught|Internal error|    at /i);
  });
});

/** CPU time (user + system) of a running process, in seconds, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The environment that runs a node under the fault library (after what the caller preloads: the sanitizer's runtime must stay first). */
function faultEnv(preload: FaultPreload, settings: Record<string, string>): NodeJS.ProcessEnv {
  const LD_PRELOAD = [process.env.LD_PRELOAD, preload.library].filter(Boolean).join(' ');
  return { ...process.env, LD_PRELOAD, MESH_FAULT_PROGRAM: basename(process.execPath), ...settings };
}

function withPreload(t: TestContext): FaultPreload {
  const preload = buildFaultPreload();
  t.after(() => preload.remove());
  return preload;
}

test('mesh node: recvmmsg failing on every read (ENOMEM) is reported and stops the node with exit 1, without spinning', { timeout: 60_000 }, async (t) => {
  const reason = await labSkipReason();
  if (reason) return skipTest(t, reason);
  const preload = withPreload(t);
  await withOverlayLab(t, { net: 26 }, async (lab) => {
    const a = await lab.addHost('a');
    await lab.addHost('b');
    const counters = preload.countersFile('persistent');
    const arm = preload.path('arm-persistent');
    await lab.start('a', 15_000, faultEnv(preload, { MESH_FAULT_RECVMMSG_PORT: String(a.listenPort), MESH_FAULT_RECVMMSG_ERRNO: String(constants.errno.ENOMEM), MESH_FAULT_ARM: arm, MESH_FAULT_COUNTERS: counters }));
    await lab.start('b');
    await lab.waitForPing('b', 'a');
    assert.equal(preload.readCounters(counters).recvmmsgFaults, 0);
    assert.ok(preload.readCounters(counters).recvmmsgPassed > 0, 'the library sees the node socket reads');

    writeFileSync(arm, '');
    // b's pings make a's socket readable; every read of it now fails and leaves the datagram there.
    const exit = await pollUntil(
      async () => a.exit ?? void (await lab.ping('b', 'a', 1, 1)),
      20_000,
      () => `node a still runs under persistent recvmmsg errors (${JSON.stringify(preload.readCounters(counters))}):\n${lab.logTail('a')}`,
    );
    const log = lab.log('a');
    assert.deepEqual(exit, { code: 1, signal: null }, log);
    assert.match(log, /the UDP socket cannot be read any more, stopping/);
    assert.match(log, /udp: recvmmsg: Cannot allocate memory on every read, no longer reading; mesh stopped/);
    assert.match(log, /mesh node stopped/);
    assert.doesNotMatch(log, /uncaught|Internal error|    at /i);
    // A spinning loop would read until it is killed: the node gave up after a bounded number of tries.
    const { recvmmsgFaults } = preload.readCounters(counters);
    assert.ok(recvmmsgFaults > 0 && recvmmsgFaults <= 10_000, `recvmmsg failed ${recvmmsgFaults} times before the node stopped`);
  });
});

test('mesh node: transient recvmmsg errors (EIO) are survived: the tunnel keeps serving, with no busy loop', { timeout: 60_000 }, async (t) => {
  const reason = await labSkipReason();
  if (reason) return skipTest(t, reason);
  const preload = withPreload(t);
  await withOverlayLab(t, { net: 27 }, async (lab) => {
    const a = await lab.addHost('a');
    await lab.addHost('b');
    const counters = preload.countersFile('transient');
    const arm = preload.path('arm-transient');
    const errors = 300;
    await lab.start('a', 15_000, faultEnv(preload, { MESH_FAULT_RECVMMSG_PORT: String(a.listenPort), MESH_FAULT_RECVMMSG_ERRNO: String(constants.errno.EIO), MESH_FAULT_RECVMMSG_COUNT: String(errors), MESH_FAULT_ARM: arm, MESH_FAULT_COUNTERS: counters }));
    await lab.start('b');
    await lab.waitForPing('b', 'a');

    writeFileSync(arm, '');
    await lab.waitForPing('b', 'a');
    await lab.waitForPing('a', 'b');
    assert.equal(preload.readCounters(counters).recvmmsgFaults, errors, 'every injected error was met');
    assert.equal(a.exit, undefined, lab.logTail('a'));

    // After the errors, the idle node's CPU use stays far below a busy loop's (generous: a quarter of a core).
    const pid = a.proc!.pid!;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await sleep(3000);
    const used = cpuSeconds(pid) - cpu0;
    const elapsed = (performance.now() - t0) / 1000;
    assert.ok(used < elapsed / 4, `node a used ${used} s of CPU in ${elapsed.toFixed(1)} s`);
    await lab.waitForPing('b', 'a');
    assert.doesNotMatch(lab.log('a'), /uncaught|Internal error|    at |cannot be read any more/i);
  });
});

test('mesh node: a netlink that never answers or answers garbage fails the start with a clear error and exit 1, no hang and no crash', { timeout: 120_000 }, async (t) => {
  const reason = await labSkipReason();
  if (reason) return skipTest(t, reason);
  const preload = withPreload(t);
  await withOverlayLab(t, { net: 28 }, async (lab) => {
    const a = await lab.addHost('a');
    const b = await lab.addHost('b');
    // An unsafe route makes the node add a kernel route over netlink at start.
    lab.reconfigure('a', { tun: { dev: a.tunDev, mtu: 1300, unsafe_routes: [{ route: '10.77.0.0/24', via: b.vpnIp }] } });
    const expected: Record<string, RegExp> = {
      silent: /^Connection timed out \(ETIMEDOUT\)$/,
      short: /^Protocol error \(EPROTO\)$/,
      overlong: /^Protocol error \(EPROTO\)$/,
      'truncated-error': /^Protocol error \(EPROTO\)$/,
      random: /.+/,
    };
    for (const [mode, error] of Object.entries(expected)) {
      const counters = preload.countersFile(`netlink-${mode}`);
      const logStart = lab.log('a').length;
      const started = lab.start('a', 15_000, faultEnv(preload, { MESH_FAULT_NETLINK: mode, MESH_FAULT_COUNTERS: counters }));
      await assert.rejects(started, /exited during start/, `netlink ${mode}`);
      const log = lab.log('a').slice(logStart);
      assert.deepEqual(a.exit, { code: 1, signal: null }, `netlink ${mode}:\n${log}`);
      const line = new RegExp(`Error: tun: cannot set up the TUN device: tun: add route 10\\.77\\.0\\.0/24 dev ${a.tunDev}: (.+)`).exec(log);
      assert.ok(line, `netlink ${mode}: no clear error:\n${log}`);
      assert.match(line[1]!, error, `netlink ${mode}`);
      assert.doesNotMatch(log, /uncaught|Internal error|    at |Segmentation|Aborted/i, `netlink ${mode}`);
      const seen = preload.readCounters(counters);
      assert.ok(seen.netlinkSwallowed >= 1, `netlink ${mode}: the route request went to the fault library`);
      if (mode !== 'silent') assert.ok(seen.netlinkForged >= 1, `netlink ${mode}: forged replies were read`);
      // The TUN device went with the failed start.
      assert.equal(await lab.deviceExists('a', a.tunDev), false, `netlink ${mode}`);
    }
  });
});
