/**
 * Two mesh nodes with real TUN devices in network namespaces (root only; skips with the reason
 * otherwise): overlay ping both ways and 100 MiB over TCP with matching SHA-256, once per cipher
 * with the kernel offloads (TUN: TSO super-packets split before sealing, coalesced writes; UDP: GSO
 * and GRO) and io_uring reads, and once with neither (one read(2) and write per packet).
 * Also SIGTERM: the node exits 0, its TUN device is gone, and the peer handles the closeTunnel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab, type Cipher } from '../../src/lab/overlay.js';
import { assertFastPathForwarded, assertKernelOffloads } from '../helpers/mesh-status.js';
import { skipTest } from '../helpers/skip.js';

const BYTES = 100 * 1024 * 1024;
const PORT = 9100;

const runs = [
  { cipher: 'aes', offload: true, net: 11 },
  { cipher: 'chachapoly', offload: true, net: 12 },
  { cipher: 'aes', offload: false, net: 13 },
] as const satisfies readonly { cipher: Cipher; offload: boolean; net: number }[];

for (const { cipher, offload, net } of runs) {
  const offloads = offload ? 'kernel offloads, io_uring' : 'no kernel offloads, no io_uring';
  test(`mesh <-> mesh over real TUN (${cipher}, ${offloads}): ping both ways, 100 MiB TCP intact, SIGTERM`, { timeout: 120_000 }, async (t) => {
    const reason = await labSkipReason();
    if (reason) {
      skipTest(t, reason);
      return;
    }
    await withOverlayLab(t, { cipher, net, offload, ioUring: offload }, async (lab) => {
      await lab.addHost('a');
      await lab.addHost('b');
      await lab.start('a');
      await lab.start('b');
      for (const host of ['a', 'b']) {
        assertKernelOffloads(lab, host, offload);
        assert.match(lab.log(host), offload ? /tunReads=io_uring/ : /tunReads=read/, lab.logTail(host));
      }
      await lab.waitForPing('a', 'b');
      await lab.waitForPing('b', 'a');
      assert.match(lab.log('a'), /tunnel up \(initiator\)/);
      assert.match(lab.log('b'), /tunnel up \(responder\)/);

      await lab.tcpServe('b', [PORT]);
      const r = await lab.tcpSend('a', 'b', PORT, BYTES, 5000, 90_000);
      t.diagnostic(`${cipher}, ${offloads}: ${BYTES} bytes in ${r.ms} ms (${r.mbitPerSec} Mbit/s)`);
      assert.equal(r.connected, true, r.error);
      assert.equal(r.sent, BYTES);
      assert.equal(r.received, BYTES);
      assert.equal(r.receivedSha256, r.sentSha256);
      // The bulk of it went through the native fast path on both sides.
      await assertFastPathForwarded(lab, 'a');
      await assertFastPathForwarded(lab, 'b');

      // SIGTERM on a: exits 0, removes its TUN device, and b tears the tunnel down on closeTunnel.
      const a = lab.host('a');
      assert.equal(await lab.deviceExists('a', a.tunDev), true);
      const exit = await lab.stop('a');
      assert.deepEqual(exit, { code: 0, signal: null }, lab.logTail('a'));
      assert.equal(await lab.deviceExists('a', a.tunDev), false, `TUN ${a.tunDev} still exists after SIGTERM`);
      await lab.waitForLog('b', /peer closed the tunnel/);
      // b forgot the tunnel: after a restarts, b's next packet starts a fresh handshake as initiator.
      await lab.start('a');
      await lab.waitForPing('b', 'a');
      assert.match(lab.log('b'), /tunnel up \(initiator\)/);
    });
  });
}
