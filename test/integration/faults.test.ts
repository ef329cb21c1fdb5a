/**
 * Faults from outside the process end cleanly (root only; skips with the reason otherwise, fails
 * under MESH_REQUIRE_ALL_TESTS=1): a mesh node whose TUN device is deleted logs it and exits 1,
 * without an uncaught exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab } from '../../src/lab/overlay.js';
import { pollUntil } from '../../src/lab/wait.js';
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
    assert.match(log, /UDP socket buffers\n\s+readBuffer: 16777216\n\s+writeBuffer: 16777216/);
    assert.match(log, /the TUN device is gone \(deleted\?\), stopping/);
    assert.match(log, /mesh node stopped/);
    assert.match(log, new RegExp(`Error: TUN device ${a.tunDev} is gone \\(tun: read from ${a.tunDev}: .+\\); mesh stopped`));
    assert.doesNotMatch(log, /uncaught|Internal error|    at /i);
  });
});
