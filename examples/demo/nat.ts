/**
 * Act "nat": a lighthouse on a simulated internet and two hosts, each behind its own home router
 * (MASQUERADE, unsolicited inbound NEW packets dropped). Neither host knows where the other is; the
 * lighthouse tells each where the other's router was seen, both punch, and the pings then go
 * straight from router to router. The proof is each router's iptables counters of data-sized UDP
 * packets it forwarded to each public address (see src/lab/nat.ts).
 */
import { labSkipReason } from '../../src/lab/lab.js';
import { NatLab } from '../../src/lab/nat.js';
import { check, runAct, type ActResult, type DemoIO } from './io.js';

const PINGS = 10;

export async function natAct(io: DemoIO, namePrefix: string): Promise<ActResult> {
  const reason = await labSkipReason({ nebulaCert: true, meshTun: true, commands: ['iptables'] });
  if (reason) return { ran: false, reason };
  const { say, step } = io;
  const lab = NatLab.create(undefined, { net: 78, say, namePrefix });
  return runAct(io, lab, { explain: async () => `NAT lab diagnostics:\n${await lab.diagnostics(20)}`, cleanupStep: '7. Clean up' }, async () => {
    step('1. The "internet" (a bridge in its own namespace) and a mesh lighthouse on it');
    const lh = await lab.addNode('lh', { impl: 'mesh', role: 'lighthouse' });

    step('2. Two home routers, each with one host behind it');
    const ra = await lab.addRouter('ra', 'cone');
    const rb = await lab.addRouter('rb', 'cone');
    await lab.addNode('alice', { impl: 'mesh', behind: 'ra' });
    await lab.addNode('bob', { impl: 'mesh', behind: 'rb' });
    say(`each router masquerades its LAN behind its public address and drops unsolicited new packets from the internet`);
    await lab.watchAll();
    say(`each router now counts the overlay data packets it forwards to every other public address (iptables counters)`);

    step('3. Start `mesh lighthouse` and the two hosts (their configs know only the lighthouse)');
    await lab.startAll('lh', 'alice', 'bob');
    say(`alice and bob register with the lighthouse ${lh.vpnIp} at ${lh.underlayIp}:${lh.listenPort}; it sees them as ${ra.publicIp} and ${rb.publicIp}`);

    step('4. alice pings bob: she asks the lighthouse where bob is, it tells bob to punch towards alice');
    const ms = await lab.waitForPing('alice', 'bob', 20_000);
    say(`first reply after ${ms} ms (lighthouse query, punching, Noise handshake)`);

    step(`5. Proof that the path is direct: ${PINGS} pings each way, counted on the routers`);
    say(`public addresses: alice's router ${ra.publicIp}, bob's router ${rb.publicIp}, the lighthouse ${lh.underlayIp}`);
    for (const [from, to] of [['alice', 'bob'], ['bob', 'alice']] as const) {
      const peerPublic = lab.publicIp(to);
      const trace = await lab.tracePings(from, to, PINGS);
      const direct = trace.sentTo.get(peerPublic) ?? 0;
      const viaLighthouse = trace.sentTo.get(lh.underlayIp) ?? 0;
      check(trace.replies === PINGS, `${from} -> ${to}: only ${trace.replies} of ${PINGS} pings answered`);
      check(direct >= PINGS, `${from} -> ${to}: expected at least ${PINGS} data packets straight to ${peerPublic}, counted ${direct}`);
      check(viaLighthouse < PINGS / 2, `${from} -> ${to}: ${viaLighthouse} data packets went to the lighthouse`);
    }
    say('the data went from router to router: the hosts punched through both NATs and talk directly');

    step('6. Stop the nodes');
    for (const name of ['alice', 'bob', 'lh']) await lab.stop(name);
  });
}
