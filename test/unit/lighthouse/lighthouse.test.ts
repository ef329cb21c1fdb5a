import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { MessageType } from '../../../src/protocol/header.js';
import { encodeMeta, MetaType, type MetaDetails } from '../../../src/protocol/messages.js';
import { sameEndpoint } from '../../../src/net/endpoint.js';
import { startMemoryNode, sleep, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { icmpEcho as echo } from '../../helpers/packets.js';
import { makeCA, makeHost, type TestHost } from '../../../src/lab/pki.js';

const ca = makeCA('Lighthouse CA', { ips: ['10.42.0.0/16'] });
const lhHost = makeHost(ca, 'lh', '10.42.0.1/16');
const lh2Host = makeHost(ca, 'lh2', '10.42.0.4/16');
const hostA = makeHost(ca, 'a', '10.42.0.2/16');
const hostB = makeHost(ca, 'b', '10.42.0.3/16');
const A = parseIp(hostA.ip);
const B = parseIp(hostB.ip);
const LH = parseIp(lhHost.ip);

let running: MemoryNode[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

const noInterfaces = () => ({});

function details(vpnIp: number, addrs: [string, number][] = [], relays: number[] = []): MetaDetails {
  return { vpnIp, ip4AndPorts: addrs.map(([ip, port]) => ({ ip: parseIp(ip), port })), counter: 0, ip6AndPorts: [], relayVpnIps: relays };
}

async function startLighthouse(net: MemoryNetwork, host = lhHost, address = '192.0.2.1'): Promise<MemoryNode> {
  const n = await startMemoryNode(net, host, address, { amLighthouse: true, tun: { disabled: true }, networkInterfaces: noInterfaces });
  running.push(n);
  return n;
}

interface ClientOptions {
  lighthouses?: [TestHost, string][];
  punchy?: Record<string, unknown>;
  staticHostMap?: Record<string, string[]>;
  interfaces?: () => ReturnType<typeof noInterfaces>;
  /** lighthouse.interval; 0 registers once, at start. */
  interval?: string;
}

async function startClient(net: MemoryNetwork, host: TestHost, address: string, o: ClientOptions = {}): Promise<MemoryNode> {
  const lighthouses = o.lighthouses ?? [[lhHost, '192.0.2.1:4242']];
  const staticHostMap: Record<string, string[]> = { ...o.staticHostMap };
  for (const [lh, addr] of lighthouses) staticHostMap[lh.ip] = [addr];
  const n = await startMemoryNode(net, host, address, {
    staticHostMap,
    networkInterfaces: o.interfaces ?? noInterfaces,
    extra: {
      lighthouse: { am_lighthouse: false, interval: o.interval ?? '100ms', hosts: lighthouses.map(([lh]) => lh.ip) },
      punchy: { punch: false, respond: false, delay: '10ms', ...o.punchy },
    },
  });
  running.push(n);
  return n;
}

function registered(lh: MemoryNode, ...hosts: TestHost[]): () => boolean {
  return () => hosts.every((h) => (lh.lighthouse!.server.addressesOf(parseIp(h.ip))?.v4.length ?? 0) > 0);
}

/** Encrypted lighthouse messages (header type 3) sent from `from` to `to`. */
function lighthouseMessages(net: MemoryNetwork, from: string, to: string): number {
  return net.traffic.filter((r) => r.sent.from.address === from && r.sent.to.address === to && (r.sent.data[0]! & 0x0f) === MessageType.LightHouse).length;
}

async function pingThrough(from: MemoryNode, to: MemoryNode): Promise<void> {
  from.tun.inject([echo(from.host.ip, to.host.ip, 8, 1, 1)]);
  await waitFor(() => to.tun.written.length > 0, 3000, `ping from ${from.host.name} at ${to.host.name}`);
}

describe('lighthouse on an in-memory network', () => {
  it('lets two nodes without static entries for each other find each other', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const a = await startClient(net, hostA, '192.0.2.2');
    const b = await startClient(net, hostB, '192.0.2.3');
    await waitFor(registered(lh, hostA, hostB), 3000, 'both registered');
    await pingThrough(a, b);
    const tunnel = a.node.hostmap.get(B)!;
    assert.ok(sameEndpoint(tunnel.remote, { address: '192.0.2.3', port: 4242 }));
    assert.equal(a.node.hostmap.get(LH)!.established, true);
  });

  it('ignores an update from a host claiming another host\'s overlay IP', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    // Registering only at start, so that no periodic update replaces the reports below.
    const a = await startClient(net, hostA, '192.0.2.2', { interval: '0' });
    const b = await startClient(net, hostB, '192.0.2.3', { interval: '0' });
    await waitFor(registered(lh, hostA, hostB), 3000, 'both registered');
    b.node.sendTo(LH, MessageType.LightHouse, 0, encodeMeta(MetaType.HostUpdateNotification, details(A, [['198.51.100.66', 4242]])));
    await waitFor(() => (lh.node.stats.dropped['lighthouse-update-wrong-ip'] ?? 0) > 0, 3000, 'spoofed update dropped');
    const book = lh.lighthouse!.server.addressesOf(A)!;
    assert.deepEqual(book.v4, [{ address: '192.0.2.2', port: 4242 }]);
    // The genuine owner can still report it.
    a.node.sendTo(LH, MessageType.LightHouse, 0, encodeMeta(MetaType.HostUpdateNotification, details(A, [['198.51.100.66', 4242]])));
    await waitFor(() => lh.lighthouse!.server.addressesOf(A)!.v4.length === 2, 3000, 'genuine report');
  });

  it('does not answer a query for an unknown host', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const a = await startClient(net, hostA, '192.0.2.2');
    await startClient(net, hostB, '192.0.2.3');
    await waitFor(registered(lh, hostA, hostB), 3000, 'both registered');
    net.clearTraffic();
    a.node.lighthouseClient.query(parseIp('10.42.0.99'));
    await sleep(50);
    await net.settle();
    assert.equal(lighthouseMessages(net, '192.0.2.1', '192.0.2.2'), 0, 'no answer for an unknown host');
    // The same query for a known host is answered (so the silence above means something).
    a.node.lighthouseClient.query(B);
    await waitFor(() => lighthouseMessages(net, '192.0.2.1', '192.0.2.2') === 1, 3000, 'answer for b');
  });

  it('makes the target punch the querier\'s addresses when the querier asks', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const interfaces = () => ({ eth0: [{ address: '203.0.113.2', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: false, cidr: '203.0.113.2/24' }] });
    const a = await startClient(net, hostA, '192.0.2.2', { interfaces });
    const b = await startClient(net, hostB, '192.0.2.3');
    await waitFor(registered(lh, hostA, hostB), 3000, 'both registered');
    net.clearTraffic();
    a.node.lighthouseClient.query(B);
    const punches = () => net.traffic.filter((r) => r.sent.from.address === '192.0.2.3' && r.sent.data.length === 1 && r.sent.data[0] === 0x00);
    await waitFor(() => punches().length === 2, 3000, 'two punches from b');
    const targets = punches().map((r) => `${r.sent.to.address}:${r.sent.to.port}`).sort();
    assert.deepEqual(targets, ['192.0.2.2:4242', '203.0.113.2:4242']);
    assert.equal(b.node.hostmap.get(A), undefined, 'punching alone makes no tunnel');
  });

  it('answers a punch notification with a handshake when punchy.respond is set', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const a = await startClient(net, hostA, '192.0.2.2');
    const b = await startClient(net, hostB, '192.0.2.3', { punchy: { respond: true, respond_delay: '30ms' } });
    await waitFor(registered(lh, hostA, hostB), 3000, 'both registered');
    a.node.lighthouseClient.query(B);
    await waitFor(() => b.node.hostmap.get(A)?.established === true, 3000, 'b handshakes towards a');
  });

  it('sends the 0x01 keepalive to every established tunnel with punchy.punch', async () => {
    const net = new MemoryNetwork();
    await startLighthouse(net);
    const a = await startClient(net, hostA, '192.0.2.2', { punchy: { punch: true } });
    await waitFor(() => a.node.hostmap.get(LH)?.established === true, 3000, 'tunnel to the lighthouse');
    net.clearTraffic();
    a.node.lighthouseClient.puncher.sendKeepalives();
    await net.settle();
    const keepalives = net.traffic.filter((r) => r.sent.from.address === '192.0.2.2' && r.sent.data.length === 1 && r.sent.data[0] === 0x01);
    assert.deepEqual(keepalives.map((r) => r.sent.to), [{ address: '192.0.2.1', port: 4242 }]);
  });

  it('rebuilds the book from the next updates after a lighthouse restart', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const a = await startClient(net, hostA, '192.0.2.2');
    const b = await startClient(net, hostB, '192.0.2.3');
    await waitFor(registered(lh, hostA, hostB), 3000, 'both registered');
    await lh.stop();
    running = running.filter((n) => n !== lh);
    const restarted = await startLighthouse(net);
    assert.equal(restarted.lighthouse!.server.size, 0, 'a new lighthouse starts empty');
    await waitFor(registered(restarted, hostA, hostB), 3000, 'both registered again');
    await pingThrough(a, b);
  });

  it('forms new tunnels when one of two lighthouses is down', async () => {
    const net = new MemoryNetwork();
    const lh1 = await startLighthouse(net);
    const lh2 = await startLighthouse(net, lh2Host, '192.0.2.4');
    await lh1.stop();
    running = running.filter((n) => n !== lh1);
    const lighthouses: [TestHost, string][] = [[lhHost, '192.0.2.1:4242'], [lh2Host, '192.0.2.4:4242']];
    const a = await startClient(net, hostA, '192.0.2.2', { lighthouses });
    const b = await startClient(net, hostB, '192.0.2.3', { lighthouses });
    await waitFor(registered(lh2, hostA, hostB), 3000, 'both registered with the live lighthouse');
    await pingThrough(a, b);
  });

  it('ignores a HostQueryReply from a host that is not a lighthouse', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const a = await startClient(net, hostA, '192.0.2.2', { staticHostMap: { [hostB.ip]: ['192.0.2.3:4242'] } });
    const b = await startClient(net, hostB, '192.0.2.3');
    await waitFor(registered(lh, hostA, hostB), 3000, 'both registered');
    await pingThrough(a, b);
    const C = parseIp('10.42.0.9');
    // The overlay address in the answer is never taken, not even from a lighthouse.
    const reply = encodeMeta(MetaType.HostQueryReply, details(C, [['198.51.100.9', 4242], ['10.42.0.50', 4242]]));
    b.node.sendTo(A, MessageType.LightHouse, 0, reply);
    await waitFor(() => (a.node.stats.dropped['lighthouse-reply-not-lighthouse'] ?? 0) > 0, 3000, 'reply from b dropped');
    assert.equal(a.node.hostmap.peekRemotes(C)?.size ?? 0, 0);
    // The same reply from the lighthouse is taken.
    lh.node.sendTo(A, MessageType.LightHouse, 0, reply);
    await waitFor(() => (a.node.hostmap.peekRemotes(C)?.size ?? 0) > 0, 3000, 'reply from the lighthouse');
    assert.deepEqual(a.node.hostmap.peekRemotes(C)!.addresses(), [{ address: '198.51.100.9', port: 4242 }]);
  });

  it('drops malformed lighthouse messages and keeps the tunnel', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const a = await startClient(net, hostA, '192.0.2.2');
    await waitFor(registered(lh, hostA), 3000, 'registered');
    a.node.sendTo(LH, MessageType.LightHouse, 0, Buffer.from([0xff, 0xff, 0xff]));
    // A NebulaMeta without Details is dropped as well (Nebula 1.6 does the same).
    a.node.sendTo(LH, MessageType.LightHouse, 0, Buffer.from([0x08, MetaType.HostQuery]));
    await waitFor(() => (lh.node.stats.dropped['lighthouse-malformed'] ?? 0) === 2, 3000, 'malformed messages dropped');
    assert.equal(lh.node.hostmap.get(A)?.established, true);
    assert.ok(lh.lighthouse!.server.addressesOf(A), 'the host stays in the book');
  });
});
