/**
 * Act "nat": a lighthouse on a simulated internet and two hosts, each behind its own home router
 * (MASQUERADE, unsolicited inbound NEW packets dropped). Neither host knows where the other is; the
 * lighthouse tells each where the other's router was seen, both punch, and the pings then go
 * straight from router to router. The proof is each router's iptables counters of data-sized UDP
 * packets it forwarded to each public address (see src/lab/nat.ts).
 */
import { labSkipReason } from '../../src/lab/lab.js';
import { NatLab } from '../../src/lab/nat.js';
import { forwardIntoNamespace } from '../../src/lab/port-forward.js';
import { check, runAct, type ActResult, type DemoIO } from './io.js';

const PINGS = 10;
/** The map inside the lighthouse's namespace (loopback there), and the port we try first on this machine. */
const MAP_PORT = 8080;

export interface NatActOptions {
  /**
   * `--map`: the lighthouse also serves lighthouse.web, a relay and a third host behind a symmetric
   * NAT join (so the map shows a relayed tunnel), and the lab keeps running with the map on
   * 127.0.0.1 until Ctrl-C.
   */
  map?: boolean;
}

export async function natAct(io: DemoIO, namePrefix: string, options: NatActOptions = {}): Promise<ActResult> {
  const reason = await labSkipReason({ nebulaCert: true, meshTun: true, commands: ['iptables'] });
  if (reason) return { ran: false, reason };
  const { say, step } = io;
  const lab = NatLab.create(undefined, { net: 78, say, namePrefix });
  return runAct(io, lab, { explain: async () => `NAT lab diagnostics:\n${await lab.diagnostics(20)}`, cleanupStep: options.map ? '8. Clean up' : '7. Clean up' }, async () => {
    step('1. The "internet" (a bridge in its own namespace) and a mesh lighthouse on it');
    const lh = await lab.addNode('lh', { impl: 'mesh', role: 'lighthouse', ...(options.map ? { extra: { stun: { alternate_port: 4243 } } } : {}) });
    if (options.map) {
      // Loopback of the lighthouse's namespace, on purpose: only the port forward below reaches it.
      lh.extra = { ...lh.extra, lighthouse: { ...(lab.configFor(lh).lighthouse as object), web: { enabled: true, listen: '127.0.0.1', port: MAP_PORT } } };
      say('the lighthouse also serves the map (lighthouse.web) and answers STUN on a second port');
    }

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

    if (options.map) {
      step('6. A relay, and carol behind a symmetric NAT: alice reaches her through the relay');
      await lab.addNode('relay', { impl: 'mesh', role: 'relay' });
      await lab.addRouter('rc', 'symmetric');
      await lab.addNode('carol', { impl: 'mesh', behind: 'rc' });
      await lab.startAll('relay', 'carol');
      say('carol sits behind a symmetric NAT (a new public port per destination): nobody can punch through to her; she lists the relay in relay.relays and keeps a tunnel to it');
      await lab.waitForLog('carol', /mapping endpoint-dependent \(symmetric\)/, 15_000);
      say(`carol's STUN answers show her NAT is symmetric, so tunnels to her go through the relay at once`);
      const ms = await lab.waitForPing('alice', 'carol', 30_000);
      say(`alice -> carol: first reply after ${ms} ms`);
      step('7. The map');
      const forward = await forwardIntoNamespace(lab.lab, lab.dir, lh.ns, { host: '127.0.0.1', port: MAP_PORT }, MAP_PORT).catch(() =>
        forwardIntoNamespace(lab.lab, lab.dir, lh.ns, { host: '127.0.0.1', port: MAP_PORT }),
      );
      const url = `http://127.0.0.1:${forward.port}/`;
      const relayed = await waitForRelayedEdge(`${url}api/mesh`, lab.host('alice').vpnIp, lab.host('carol').vpnIp);
      check(relayed !== null, 'the map never showed the relayed tunnel from alice to carol');
      say(`the lighthouse's map shows alice - carol relayed via ${relayed} (nodes report their tunnels every lighthouse.interval)`);
      say(`the map: ${url}  (JSON: ${url}api/mesh, live events: ${url}api/events)`);
      say(`the lab keeps running: open the map, stop a node (e.g. \`kill ${lab.host('bob').proc?.pid}\` for bob) and watch it leave. Ctrl-C ends the demo and removes everything.`);
      await new Promise<never>(() => {});
    }

    step('6. Stop the nodes');
    for (const name of ['alice', 'bob', 'lh']) await lab.stop(name);
  });
}

/** The relay the lighthouse's map shows between `a` and `b`, once it does (through the port forward). */
async function waitForRelayedEdge(apiUrl: string, a: string, b: string, timeoutMs = 20_000): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const view = (await (await fetch(apiUrl)).json()) as { edges: { from: string; to: string; via: string | null }[] };
      const edge = view.edges.find((e) => (e.from === a && e.to === b) || (e.from === b && e.to === a));
      if (edge?.via) return edge.via;
    } catch {
      // not serving yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}
