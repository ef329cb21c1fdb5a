/**
 * NAT traversal in a namespace lab (root only; skips with the reason otherwise): hosts behind
 * masquerading home routers, lighthouses and a relay on a simulated internet (see src/lab/nat.ts).
 *
 * Every scenario runs with real nebula 1.6.1 nodes (which proves the topology) and with mesh nodes;
 * the interop cases mix them. Paths are proven from the network: the pinging host's router counts
 * the data-sized UDP packets it forwards to each public address, so "direct" means the pings went
 * to the other router's public address and "relayed" means they went to the relay and none to the
 * other router.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Impl } from '../../src/lab/binaries.js';
import { labSkipReason } from '../../src/lab/lab.js';
import { withNatLab, type NatKind, type NatLab } from '../../src/lab/nat.js';
import { skipTest } from '../helpers/skip.js';

const PINGS = 10;

function skipReason(impls: Impl[]): Promise<string | undefined> {
  return labSkipReason({ nebula: impls.includes('nebula'), nebulaCert: true, meshTun: impls.includes('mesh'), commands: ['iptables'] });
}

/** Asserts that all pings were answered and went straight to `peerPublicIp`, not via `notVia`. */
async function assertDirect(lab: NatLab, from: string, to: string, notVia: string[]): Promise<void> {
  const peerPublicIp = lab.publicIp(to);
  const trace = await lab.tracePings(from, to, PINGS);
  assert.equal(trace.replies, PINGS, `${from} -> ${to}: ${trace.output}`);
  const direct = trace.sentTo.get(peerPublicIp) ?? 0;
  assert.ok(direct >= PINGS, `${from} -> ${to}: expected >= ${PINGS} data packets straight to ${peerPublicIp}, counted ${direct} (${fmt(trace.sentTo)})`);
  for (const ip of notVia) assert.ok((trace.sentTo.get(ip) ?? 0) < PINGS / 2, `${from} -> ${to}: data went via ${ip} (${fmt(trace.sentTo)})`);
}

/**
 * A lighthouse (with `relay`, also a relay) on the internet and hosts a and b behind NATs of `kind`;
 * every router counts what it forwards to every public address, and all nodes are started.
 */
async function twoHostsBehindNats(lab: NatLab, kind: NatKind, impls: { lh: Impl; a: Impl; b: Impl }, options: { relay?: boolean; lighthouseExtra?: Record<string, unknown> } = {}): Promise<void> {
  await lab.addNode('lh', { impl: impls.lh, role: 'lighthouse', ...(options.lighthouseExtra ? { extra: options.lighthouseExtra } : {}) });
  if (options.relay) await lab.addNode('relay', { impl: impls.lh, role: 'relay' });
  await lab.addRouter('ra', kind);
  await lab.addRouter('rb', kind);
  await lab.addNode('a', { impl: impls.a, behind: 'ra' });
  await lab.addNode('b', { impl: impls.b, behind: 'rb' });
  await lab.watchAll();
  await lab.startAll('lh', ...(options.relay ? ['relay'] : []), 'a', 'b');
}

/** Pings a -> b and b -> a: every reply comes, all data goes to the relay, none straight to the peer. */
async function assertRelayPath(lab: NatLab): Promise<void> {
  for (const [from, to] of [['a', 'b'], ['b', 'a']] as const) {
    const trace = await lab.tracePings(from, to, PINGS);
    assert.equal(trace.replies, PINGS, `${from} -> ${to}: ${trace.output}`);
    const viaRelay = trace.sentTo.get(lab.publicIp('relay')) ?? 0;
    const direct = trace.sentTo.get(lab.publicIp(to)) ?? 0;
    assert.ok(viaRelay >= PINGS, `${from} -> ${to}: expected >= ${PINGS} data packets to the relay, counted ${viaRelay} (${fmt(trace.sentTo)})`);
    assert.equal(direct, 0, `${from} -> ${to}: data went straight to ${lab.publicIp(to)} although both NATs are symmetric (${fmt(trace.sentTo)})`);
  }
}

function fmt(counts: Map<string, number>): string {
  return [...counts].map(([ip, n]) => `${ip}: ${n}`).join(', ');
}

/** Lighthouse on the internet, hosts a and b behind cone NATs: after punching they talk directly. */
async function punchScenario(lab: NatLab, impls: { lh: Impl; a: Impl; b: Impl }): Promise<void> {
  await twoHostsBehindNats(lab, 'cone', impls);
  await lab.waitForPing('a', 'b');
  await assertDirect(lab, 'a', 'b', [lab.publicIp('lh')]);
  await assertDirect(lab, 'b', 'a', [lab.publicIp('lh')]);
}

const same = (impl: Impl) => ({ lh: impl, a: impl, b: impl });
let net = 40;

for (const impl of ['nebula', 'mesh'] as const) {
  const directNet = net++;
  test(`[${impl}] two hosts behind cone NATs punch through via the lighthouse and talk directly`, { timeout: 60_000 }, async (t) => {
    const reason = await skipReason([impl]);
    if (reason) return skipTest(t, reason);
    await withNatLab(t, { net: directNet }, (lab) => punchScenario(lab, same(impl)));
  });

  const relayNet = net++;
  test(`[${impl}] two hosts behind symmetric NATs cannot punch and talk through the relay`, { timeout: 60_000 }, async (t) => {
    const reason = await skipReason([impl]);
    if (reason) return skipTest(t, reason);
    await withNatLab(t, { net: relayNet }, async (lab) => {
      await twoHostsBehindNats(lab, 'symmetric', same(impl), { relay: true });
      // No tunnel to the relay exists yet: the relay must reach b through the lighthouse (b punches
      // and, with punchy.respond, handshakes back after 5 s), so the first reply takes ~6 s.
      await lab.waitForPing('a', 'b', 20_000);
      // a did try b's public address (handshakes sent to what the lighthouse reported), in vain.
      const triedDirect = (await lab.forwarded('ra')).get(lab.publicIp('b')) ?? 0;
      assert.ok(triedDirect >= 1, `a never tried to reach ${lab.publicIp('b')} directly`);
      await assertRelayPath(lab);
    });
  });

  const stunNet = net++;
  if (impl === 'mesh') {
    test('[mesh] behind symmetric NATs, STUN tells the hosts so, and they reach each other through the relay', { timeout: 60_000 }, async (t) => {
      const reason = await skipReason([impl]);
      if (reason) return skipTest(t, reason);
      await withNatLab(t, { net: stunNet }, async (lab) => {
        await twoHostsBehindNats(lab, 'symmetric', same(impl), { relay: true, lighthouseExtra: { stun: { alternate_port: 4243 } } });
        for (const host of ['a', 'b']) {
          await lab.waitForLog(host, /mapping endpoint-dependent \(symmetric\)/, 10_000);
        }
        // Each host keeps a tunnel to its relay and knows its NAT is symmetric, so a asks the relay at
        // once and the relay reaches b at once (the nebula variant waits for b's 5 s punch-back).
        const firstReply = await lab.waitForPing('a', 'b', 20_000);
        t.diagnostic(`first reply after ${firstReply} ms`);
        await assertRelayPath(lab);
      });
    });
  }

  const twoLighthousesNet = net++;
  test(`[${impl}] with two lighthouses, one killed: the existing tunnel keeps working and new tunnels still form`, { timeout: 60_000 }, async (t) => {
    const reason = await skipReason([impl]);
    if (reason) return skipTest(t, reason);
    await withNatLab(t, { net: twoLighthousesNet }, async (lab) => {
      await lab.addNode('lh1', { impl, role: 'lighthouse' });
      await lab.addNode('lh2', { impl, role: 'lighthouse' });
      for (const r of ['ra', 'rb', 'rc']) await lab.addRouter(r, 'cone');
      await lab.addNode('a', { impl, behind: 'ra' });
      await lab.addNode('b', { impl, behind: 'rb' });
      await lab.addNode('c', { impl, behind: 'rc' });
      const lighthouses = [lab.publicIp('lh1'), lab.publicIp('lh2')];
      await lab.watchAll();
      await lab.startAll('lh1', 'lh2', 'a', 'b');
      await lab.waitForPing('a', 'b');
      await assertDirect(lab, 'a', 'b', lighthouses);

      await lab.stop('lh1', 'SIGKILL');
      await assertDirect(lab, 'a', 'b', lighthouses);
      await assertDirect(lab, 'b', 'a', lighthouses);

      // A host that starts after the crash (it still lists both) and an existing host both form new tunnels.
      await lab.start('c');
      await lab.waitForPing('c', 'a');
      await assertDirect(lab, 'c', 'a', lighthouses);
      await lab.waitForPing('b', 'c');
      await assertDirect(lab, 'b', 'c', lighthouses);
    });
  });

  const roamingNet = net++;
  test(`[${impl}] a router's public address changes: the tunnel recovers within seconds of traffic`, { timeout: 60_000 }, async (t) => {
    const reason = await skipReason([impl]);
    if (reason) return skipTest(t, reason);
    await withNatLab(t, { net: roamingNet }, async (lab) => {
      await twoHostsBehindNats(lab, 'cone', same(impl));
      await lab.waitForPing('a', 'b');
      await assertDirect(lab, 'a', 'b', [lab.publicIp('lh')]);

      const moved = await lab.readdress('ra');
      // "Within seconds" is the bound of this wait; how long it took is reported, not asserted.
      const recoveryMs = await lab.waitForPing('a', 'b', 15_000);
      t.diagnostic(`a -> b answered again ${recoveryMs} ms after a's router moved to ${moved}`);
      await assertDirect(lab, 'a', 'b', [lab.publicIp('lh')]);
      // b now sends to the new address.
      await assertDirect(lab, 'b', 'a', [lab.publicIp('lh')]);
    });
  });
}

const interop: { lh: Impl; a: Impl; b: Impl }[] = [
  { lh: 'mesh', a: 'nebula', b: 'nebula' },
  { lh: 'nebula', a: 'mesh', b: 'mesh' },
  { lh: 'nebula', a: 'mesh', b: 'nebula' },
  { lh: 'mesh', a: 'nebula', b: 'mesh' },
];
for (const impls of interop) {
  const interopNet = net++;
  test(`[interop] ${impls.lh} lighthouse, ${impls.a} host and ${impls.b} host behind cone NATs punch through and talk directly`, { timeout: 60_000 }, async (t) => {
    const reason = await skipReason(['nebula', 'mesh']);
    if (reason) return skipTest(t, reason);
    await withNatLab(t, { net: interopNet }, (lab) => punchScenario(lab, impls));
  });
}
