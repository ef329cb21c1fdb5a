/**
 * Two mesh nodes with real TUN devices in network namespaces (root only; skips with the reason
 * otherwise): overlay ping both ways and 100 MiB over TCP with matching SHA-256, once per cipher
 * with TUN offloads (TSO super-packets split before sealing, coalesced writes) and once without.
 * Also SIGTERM: the node exits 0, its TUN device is gone, and the peer handles the closeTunnel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab, type Cipher } from '../../src/lab/overlay.js';
import { assertFastPathForwarded } from '../helpers/mesh-status.js';
import { skipTest } from '../helpers/skip.js';

const BYTES = 100 * 1024 * 1024;
const PORT = 9100;

const runs = [
  { cipher: 'aes', tunOffload: true, net: 11 },
  { cipher: 'chachapoly', tunOffload: true, net: 12 },
  { cipher: 'aes', tunOffload: false, net: 13 },
] as const satisfies readonly { cipher: Cipher; tunOffload: boolean; net: number }[];

for (const { cipher, tunOffload, net } of runs) {
  const offloads = tunOffload ? 'TUN offloads' : 'no TUN offloads';
  test(`mesh <-> mesh over real TUN (${cipher}, ${offloads}): ping both ways, 100 MiB TCP intact, SIGTERM`, { timeout: 120_000 }, async (t) => {
    const reason = await labSkipReason();
    if (reason) {
      skipTest(t, reason);
      return;
    }
    await withOverlayLab(t, { cipher, net, tunOffload }, async (lab) => {
      await lab.addHost('a');
      await lab.addHost('b');
      await lab.start('a');
      await lab.start('b');
      for (const host of ['a', 'b']) {
        // This kernel (6.2+) has all of them; a fallback to fewer would show here.
        assert.match(lab.log(host), tunOffload ? /tunOffloads: "vnet_hdr,csum,tso4,tso6,uso4,uso6/ : /tunOffloads: "none"/, lab.logTail(host));
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
