/**
 * A mesh node and a real nebula 1.6.1 node, each with a real TUN device in its own network
 * namespace (root only; skips with the reason when that, the native addon or `nebula` is missing).
 *
 * For each cipher and each initiator: both nodes start fresh (no tunnel, no lighthouse, punchy off,
 * so nothing handshakes until traffic appears), the first ping comes from the initiating side, and
 * the logs confirm who initiated. Then 100 MiB cross the tunnel over TCP with matching SHA-256 (from
 * the initiator to the responder), and SIGTERM is checked: stopping the mesh node exits 0, removes
 * its TUN device and nebula logs the closeTunnel; stopping nebula makes mesh drop the tunnel.
 * Certificates come from nebula-cert for aes and from `mesh ca` for chachapoly. Every case runs with
 * mesh's kernel offloads (TUN TSO/USO, UDP GSO/GRO) and again without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab, type Cipher } from '../../src/lab/overlay.js';
import { assertFastPathForwarded, assertKernelOffloads } from '../helpers/mesh-status.js';
import { skipTest } from '../helpers/skip.js';

const BYTES = 100 * 1024 * 1024;
const PORT = 9300;

const cases: { cipher: Cipher; initiator: 'mesh' | 'nebula'; offload: boolean; net: number }[] = [
  { cipher: 'aes', initiator: 'mesh', offload: true, net: 31 },
  { cipher: 'aes', initiator: 'nebula', offload: true, net: 32 },
  { cipher: 'chachapoly', initiator: 'mesh', offload: true, net: 33 },
  { cipher: 'chachapoly', initiator: 'nebula', offload: true, net: 34 },
  { cipher: 'aes', initiator: 'mesh', offload: false, net: 41 },
  { cipher: 'aes', initiator: 'nebula', offload: false, net: 42 },
  { cipher: 'chachapoly', initiator: 'mesh', offload: false, net: 43 },
  { cipher: 'chachapoly', initiator: 'nebula', offload: false, net: 44 },
];

for (const { cipher, initiator, offload, net } of cases) {
  const pki = cipher === 'aes' ? 'nebula-cert' : 'mesh';
  const offloads = offload ? 'kernel offloads' : 'no kernel offloads';
  test(`mesh <-> nebula 1.6.1 (${cipher}, ${initiator} initiates, certs by ${pki}, ${offloads}): ping both ways, 100 MiB TCP intact, SIGTERM`, { timeout: 120_000 }, async (t) => {
    const reason = await labSkipReason({ nebula: true, nebulaCert: pki === 'nebula-cert' });
    if (reason) {
      skipTest(t, reason);
      return;
    }
    await withOverlayLab(t, { cipher, net, pki, offload }, async (lab) => {
      await lab.addHost('m', { impl: 'mesh' });
      await lab.addHost('n', { impl: 'nebula' });
      await lab.start('m');
      await lab.start('n');
      assertKernelOffloads(lab, 'm', offload);
      const [from, to] = initiator === 'mesh' ? ['m', 'n'] : ['n', 'm'];
      await lab.waitForPing(from, to);
      await lab.waitForPing(to, from);

      // Who initiated: mesh says so; nebula logs stage 1 sent (initiator) or stage 1 received (responder).
      const meshLog = lab.log('m');
      const nebulaLog = lab.log('n');
      if (initiator === 'mesh') {
        assert.match(meshLog, /tunnel up \(initiator\)/);
        assert.doesNotMatch(meshLog, /tunnel up \(responder\)/);
        assert.match(nebulaLog, /Handshake message received.*stage:1/);
        assert.doesNotMatch(nebulaLog, /Handshake message sent.*stage:1/);
      } else {
        assert.match(meshLog, /tunnel up \(responder\)/);
        assert.doesNotMatch(meshLog, /tunnel up \(initiator\)/);
        assert.match(nebulaLog, /Handshake message sent.*stage:1/);
      }

      await lab.tcpServe(to, [PORT]);
      const r = await lab.tcpSend(from, to, PORT, BYTES, 5000, 100_000);
      t.diagnostic(`${cipher}, ${offloads}, ${from} -> ${to}: ${BYTES} bytes in ${r.ms} ms (${r.mbitPerSec} Mbit/s)`);
      assert.equal(r.connected, true, r.error);
      assert.equal(r.sent, BYTES);
      assert.equal(r.received, BYTES);
      assert.equal(r.receivedSha256, r.sentSha256);
      // Against nebula, mesh forwarded the flow natively both ways.
      await assertFastPathForwarded(lab, 'm');

      if (initiator === 'mesh') {
        // SIGTERM on mesh: exit 0, TUN gone, nebula tears the tunnel down on our closeTunnel.
        const m = lab.host('m');
        assert.equal(await lab.deviceExists('m', m.tunDev), true);
        assert.deepEqual(await lab.stop('m'), { code: 0, signal: null }, lab.logTail('m'));
        assert.equal(await lab.deviceExists('m', m.tunDev), false, `TUN ${m.tunDev} still exists after SIGTERM`);
        await lab.waitForLog('n', /Close tunnel received, tearing down/);
      } else {
        // SIGTERM on nebula: mesh handles nebula's closeTunnel; then mesh exits 0 on SIGTERM too.
        await lab.stop('n');
        await lab.waitForLog('m', /peer closed the tunnel/);
        const m = lab.host('m');
        assert.deepEqual(await lab.stop('m'), { code: 0, signal: null }, lab.logTail('m'));
        assert.equal(await lab.deviceExists('m', m.tunDev), false, `TUN ${m.tunDev} still exists after SIGTERM`);
      }
    });
  });
}
