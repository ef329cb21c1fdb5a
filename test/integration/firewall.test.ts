/**
 * Inbound firewall of a mesh node with real TUN devices in network namespaces (root only; skips
 * with the reason otherwise). Node B allows ICMP from anyone, TCP 9201 from anyone and TCP 9203
 * only from group "ops"; A's certificate has group "ops", C's has none. A TCP server listens on
 * B's overlay address on all three ports, so a connection that times out was stopped by B's
 * firewall, not by a missing listener.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab } from '../../src/lab/overlay.js';
import { assertFastPathForwarded } from '../helpers/mesh-status.js';
import { skipTest } from '../helpers/skip.js';

const OPEN = 9201;
const BLOCKED = 9202;
const GROUP = 9203;
const CONNECT_TIMEOUT_MS = 3000;

test('mesh inbound firewall: allowed port reaches, blocked port times out, group rule', { timeout: 90_000 }, async (t) => {
  const reason = await labSkipReason();
  if (reason) {
    skipTest(t, reason);
    return;
  }
  await withOverlayLab(t, { net: 21 }, async (lab) => {
    await lab.addHost('a', { groups: ['ops'] });
    await lab.addHost('b', {
      logLevel: 'debug',
      inbound: [
        { port: 'any', proto: 'icmp', host: 'any' },
        { port: OPEN, proto: 'tcp', host: 'any' },
        { port: GROUP, proto: 'tcp', group: 'ops' },
      ],
    });
    await lab.addHost('c', { groups: ['dev'] });
    for (const h of ['a', 'b', 'c']) await lab.start(h);
    await lab.waitForPing('a', 'b');
    await lab.waitForPing('c', 'b');
    await lab.tcpServe('b', [OPEN, BLOCKED, GROUP]);

    const send = (from: string, port: number) => lab.tcpSend(from, 'b', port, 64 * 1024, CONNECT_TIMEOUT_MS);
    const [aOpen, aBlocked, aGroup, cOpen, cBlocked, cGroup] = await Promise.all([
      send('a', OPEN),
      send('a', BLOCKED),
      send('a', GROUP),
      send('c', OPEN),
      send('c', BLOCKED),
      send('c', GROUP),
    ]);
    const reached = (r: typeof aOpen, what: string) => {
      assert.equal(r.connected, true, `${what}: ${r.error}`);
      assert.equal(r.received, 64 * 1024, what);
      assert.equal(r.receivedSha256, r.sentSha256, what);
    };
    const timedOut = (r: typeof aOpen, what: string) => {
      assert.equal(r.connected, false, `${what} should be blocked`);
      assert.equal(r.error, 'timeout', `${what} should time out (silently dropped), got ${r.error}`);
    };
    reached(aOpen, `a -> b:${OPEN} (any host)`);
    timedOut(aBlocked, `a -> b:${BLOCKED} (no rule)`);
    reached(aGroup, `a -> b:${GROUP} (a has group ops)`);
    reached(cOpen, `c -> b:${OPEN} (any host)`);
    timedOut(cBlocked, `c -> b:${BLOCKED} (no rule)`);
    timedOut(cGroup, `c -> b:${GROUP} (c lacks group ops)`);

    // The drops happened in B's firewall (logged at debug); B's tunnels are fine, A and C still ping B.
    assert.match(lab.log('b'), /firewall dropped packet/);
    assert.equal((await lab.ping('a', 'b')).code, 0);
    assert.equal((await lab.ping('c', 'b')).code, 0);
    // The allowed flows went through b's fast path (the blocked ones could not: JS drops them).
    await assertFastPathForwarded(lab, 'b');
  });
});
