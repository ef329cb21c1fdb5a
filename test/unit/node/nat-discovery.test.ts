import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { MemoryNetwork, type MemoryPacket } from '../../../src/io/memory.js';
import { parseConfig } from '../../../src/node/config.js';
import { MeshNode } from '../../../src/node/node.js';
import { decodeStun, encodeBindingRequest, encodeBindingSuccess, newTransactionId } from '../../../src/protocol/stun-codec.js';
import { isStunRequest, looksLikeStun } from '../../../src/protocol/stun.js';
import { nebulaConfig } from '../../../src/lab/configs.js';
import { QUIET_INTERVAL_MS } from '../../../src/node/quiet.js';
import { FakeTimers } from '../../helpers/fake-timers.js';
import { within } from '../../../src/lab/wait.js';
import { FAST_TIMERS, startMemoryNode, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';

const ca = makeCA('STUN CA', { ips: ['10.9.0.0/16'] });
const lighthouseHost = makeHost(ca, 'lighthouse', '10.9.0.1/16');
const lighthouse2Host = makeHost(ca, 'lighthouse2', '10.9.0.2/16');
const clientHost = makeHost(ca, 'client', '10.9.0.10/16');

const LIGHTHOUSE = '198.51.100.1';
const LIGHTHOUSE2 = '198.51.100.2';
const CLIENT = '192.168.1.2';
const NAT_PUBLIC = '203.0.113.9';

let running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

async function startLighthouse(net: MemoryNetwork, host = lighthouseHost, address = LIGHTHOUSE, alternatePort = 4243): Promise<MemoryNode> {
  const lh = await startMemoryNode(net, host, address, { amLighthouse: true, tun: { disabled: true }, extra: { stun: { alternate_port: alternatePort } } });
  running.push(lh);
  return lh;
}

/** A client whose info logs are kept, to check what NAT discovery reports. */
async function startClient(net: MemoryNetwork, lighthouses: Record<string, string>, interval = '200ms', timers?: FakeTimers): Promise<{ node: MeshNode; logs: string[] }> {
  const raw = nebulaConfig({
    ca: clientHost.ca,
    cert: clientHost.certPem,
    key: clientHost.keyPem,
    listen: { host: CLIENT, port: 4242 },
    lighthouses: Object.keys(lighthouses),
    staticHostMap: Object.fromEntries(Object.entries(lighthouses).map(([vpn, addr]) => [vpn, [addr]])),
    tun: { disabled: true },
    extra: { ...FAST_TIMERS, stun: { interval } },
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)).msg);
      done();
    },
  });
  const node = await MeshNode.start(parseConfig(raw, 'client.yml').config, pino({ level: 'info' }, sink), { bindUdp: async (o) => net.bind(CLIENT, o.port), timers });
  running.push(node);
  return { node, logs };
}

/**
 * A NAT in front of CLIENT:4242: outgoing packets leave from NAT_PUBLIC with a port chosen by
 * `portFor(destination)`, and replies to such a port from that destination are let back in.
 */
function addNat(net: MemoryNetwork, portFor: (to: MemoryPacket['to']) => number): void {
  const outbound = new Map<number, string>();
  net.addHook((p) => {
    if (p.from.address === CLIENT) {
      const port = portFor(p.to);
      outbound.set(port, `${p.to.address}:${p.to.port}`);
      return { ...p, from: { address: NAT_PUBLIC, port } };
    }
    if (p.to.address === NAT_PUBLIC) {
      return outbound.get(p.to.port) === `${p.from.address}:${p.from.port}` ? { ...p, to: { address: CLIENT, port: 4242 } } : null;
    }
    return p;
  });
}

describe('STUN: lighthouse responder and NAT discovery', () => {
  it('finds the reflexive address behind an endpoint-independent NAT, using the OTHER-ADDRESS port', async () => {
    const net = new MemoryNetwork();
    addNat(net, () => 30000);
    await startLighthouse(net);
    const { node, logs } = await startClient(net, { '10.9.0.1': `${LIGHTHOUSE}:4242` });
    await waitFor(() => logs.some((l) => l.includes('endpoint-independent')), 3000, 'classification');
    assert.deepEqual(node.nat.reflexive, { address: NAT_PUBLIC, port: 30000 });
    assert.equal(node.nat.symmetric, false);
    const answeredFrom = new Set(net.traffic.filter((r) => r.packet && r.sent.to.address === NAT_PUBLIC && looksLikeStun(r.sent.data)).map((r) => r.sent.from.port));
    assert.deepEqual([...answeredFrom].sort(), [4242, 4243], 'both lighthouse ports answered');
    // Several more answers reach the client (the handler runs when they are delivered) before the log is read.
    const answers = () => net.traffic.filter((r) => r.packet && r.sent.to.address === NAT_PUBLIC && looksLikeStun(r.sent.data)).length;
    const answersBefore = answers();
    await waitFor(() => answers() >= answersBefore + 4, 3000, 'more STUN answers');
    assert.deepEqual(
      logs.filter((l) => l.startsWith('NAT:')),
      [`NAT: reflexive address ${NAT_PUBLIC}:30000, mapping unknown (one STUN server answered)`, `NAT: reflexive address ${NAT_PUBLIC}:30000, mapping endpoint-independent`],
      'logged when learned and when classified, not on every answer',
    );
  });

  it('detects an endpoint-dependent (symmetric) NAT', async () => {
    const net = new MemoryNetwork();
    const ports = new Map<string, number>();
    addNat(net, (to) => {
      const key = `${to.address}:${to.port}`;
      if (!ports.has(key)) ports.set(key, 31000 + ports.size);
      return ports.get(key)!;
    });
    await startLighthouse(net);
    const { node, logs } = await startClient(net, { '10.9.0.1': `${LIGHTHOUSE}:4242` });
    await waitFor(() => node.nat.symmetric, 3000, 'symmetric');
    assert.equal(node.nat.reflexive?.address, NAT_PUBLIC);
    assert.ok(logs.some((l) => /^NAT: reflexive address 203\.0\.113\.9:3100\d, mapping endpoint-dependent \(symmetric\)$/.test(l)), logs.join('\n'));
  });

  it('compares two lighthouses when none names a second port', async () => {
    const net = new MemoryNetwork();
    await startLighthouse(net, lighthouseHost, LIGHTHOUSE, 0);
    await startLighthouse(net, lighthouse2Host, LIGHTHOUSE2, 0);
    const { node, logs } = await startClient(net, { '10.9.0.1': `${LIGHTHOUSE}:4242`, '10.9.0.2': `${LIGHTHOUSE2}:4242` });
    await waitFor(() => logs.some((l) => l.includes('endpoint-independent')), 3000, 'classification');
    assert.deepEqual(node.nat.reflexive, { address: CLIENT, port: 4242 });
    assert.equal(node.nat.symmetric, false);
    assert.equal(net.traffic.filter((r) => r.sent.to.port === 4243).length, 0, 'no OTHER-ADDRESS, no second port asked');
  });

  it('drops responses that do not answer a request we sent to that address', async () => {
    const net = new MemoryNetwork();
    let requestId: Buffer | null = null;
    // The lighthouse is silent; remember the transaction the client used.
    net.addHook((p) => {
      if (p.to.address === LIGHTHOUSE && isStunRequest(p.data)) {
        requestId = Buffer.from(p.data.subarray(8, 20));
        return null;
      }
      return p;
    });
    const { node } = await startClient(net, { '10.9.0.1': `${LIGHTHOUSE}:4242` }, '10s');
    await waitFor(() => requestId !== null, 2000, 'a request');
    const attacker = net.bind('198.51.100.66', 4242);
    const forged = { address: '6.6.6.6', port: 666 };
    attacker.send([
      { data: encodeBindingSuccess(requestId!, forged, null), to: { address: CLIENT, port: 4242 } },
      { data: encodeBindingSuccess(newTransactionId(), forged, null), to: { address: CLIENT, port: 4242 } },
    ]);
    await net.settle();
    assert.equal(node.stats.dropped['stun-unsolicited'], 2);
    assert.equal(node.nat.reflexive, null);
    // A request to a node that is not a lighthouse is dropped, not answered.
    attacker.send([{ data: encodeBindingRequest(newTransactionId()), to: { address: CLIENT, port: 4242 } }]);
    await net.settle();
    assert.equal(node.stats.dropped['stun-request-not-lighthouse'], 1);
    await attacker.close();
  });

  it('backs off from a server that never answers', async () => {
    const net = new MemoryNetwork();
    const timers = new FakeTimers();
    const sentAt: number[] = [];
    net.addHook((p) => {
      if (p.to.address === LIGHTHOUSE && isStunRequest(p.data)) sentAt.push(timers.now());
      return p;
    });
    await startClient(net, { '10.9.0.1': `${LIGHTHOUSE}:4242` }, '100ms', timers);
    // 3.5 s on the node's clock, in 5 ms steps, each followed by the network settling: discovery
    // starts once the node is quiet (its handshakes with the absent lighthouse given up).
    for (let elapsed = 0; elapsed < 3500; elapsed += 5) {
      timers.advance(5);
      await net.settle();
    }
    // Each request waits 25 ms (interval / 4) for an answer; three quick retries, then pauses of 100,
    // 200 and 400 ms: 6 requests in 1.5 s where a client without back-off would have sent 12. (The
    // hook sees a datagram when the network delivers it, at the end of the 5 ms step it was sent in.)
    assert.deepEqual(sentAt.slice(0, 6).map((t) => t - sentAt[0]!), [0, 20, 45, 170, 395, 820]);
  });

  it('starts when the node is quiet, or 2 s after its start while it never is', async () => {
    const net = new MemoryNetwork();
    const timers = new FakeTimers();
    await startLighthouse(net);
    const firstRequest = (clientAddress: string) => {
      let at: number | null = null;
      net.addHook((p) => {
        if (at === null && p.from.address === clientAddress && isStunRequest(p.data)) at = timers.now();
        return p;
      });
      return () => at;
    };
    const quietAt = firstRequest(CLIENT);
    const start = timers.now();
    const { node } = await startClient(net, { '10.9.0.1': `${LIGHTHOUSE}:4242` }, '10s', timers);
    for (let elapsed = 0; elapsed < 3000 && quietAt() === null; elapsed += 5) {
      timers.advance(5);
      await net.settle();
    }
    // The handshake with the lighthouse and the first update are over within the first check
    // interval; the next one (1 s) finds the node quiet. No request went out before. (Loading the
    // codec takes a few turns of the real event loop, each a 5 ms step here.)
    const quietAfter = quietAt()! - start;
    assert.ok(quietAfter >= 2 * QUIET_INTERVAL_MS && quietAfter < 3 * QUIET_INTERVAL_MS, `first request ${quietAfter} ms after the start`);
    assert.equal(node.stats.handshakesInitiated, 1);
    // What the memory settler waits for to hand back the load's garbage.
    await within(node.nat.codecLoaded, 1000, 'codecLoaded');
    await node.stop();

    // Another start with a datagram arriving every 100 ms: discovery begins 2 s after the start.
    const net2 = new MemoryNetwork();
    const timers2 = new FakeTimers();
    let busyAt: number | null = null;
    net2.addHook((p) => {
      if (busyAt === null && p.from.address === CLIENT && isStunRequest(p.data)) busyAt = timers2.now();
      return p;
    });
    const noise = net2.bind('192.0.2.66', 9999);
    const start2 = timers2.now();
    await startClient(net2, { '10.9.0.1': `${LIGHTHOUSE}:4242` }, '10s', timers2);
    for (let elapsed = 0; elapsed < 3000 && busyAt === null; elapsed += 5) {
      if (elapsed % 100 === 0) noise.send([{ data: Buffer.from('not a nebula packet'), to: { address: CLIENT, port: 4242 } }]);
      timers2.advance(5);
      await net2.settle();
    }
    const busyAfter = busyAt! - start2;
    assert.ok(busyAfter >= 2000 && busyAfter < 2000 + QUIET_INTERVAL_MS, `first request ${busyAfter} ms after the start`);
    await noise.close();
  });

  it('asks again at once on SIGHUP (reload), whether or not it has started', async () => {
    const net = new MemoryNetwork();
    let requests = 0;
    net.addHook((p) => {
      if (p.to.address === LIGHTHOUSE && isStunRequest(p.data)) requests++;
      return p;
    });
    const { node } = await startClient(net, { '10.9.0.1': `${LIGHTHOUSE}:4242` }, '10s');
    await net.settle();
    assert.equal(requests, 0, 'not before the node is quiet');
    await node.reload(node.config);
    await waitFor(() => requests === 1, 2000, 'a STUN request after the reload');
    await node.reload(node.config);
    await waitFor(() => requests === 2, 2000, 'a STUN request after the second reload');
    await net.settle();
    assert.equal(requests, 2);
  });

  it('the lighthouse drops malformed and non-request STUN and keeps answering', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const prober = net.bind('198.51.100.77', 5000);
    const replies: Buffer[] = [];
    prober.onDatagrams((batch) => replies.push(...batch.map((d) => d.data)));
    const request = encodeBindingRequest(newTransactionId());
    const badLength = Buffer.concat([request, Buffer.alloc(4)]);
    const response = encodeBindingSuccess(newTransactionId(), { address: '1.2.3.4', port: 1 }, null);
    const id = newTransactionId();
    prober.send([
      { data: badLength, to: { address: LIGHTHOUSE, port: 4242 } },
      { data: response, to: { address: LIGHTHOUSE, port: 4242 } },
      { data: badLength, to: { address: LIGHTHOUSE, port: 4243 } },
      { data: encodeBindingRequest(id), to: { address: LIGHTHOUSE, port: 4243 } },
    ]);
    await waitFor(() => replies.length > 0, 2000, 'an answer');
    await net.settle();
    assert.equal(replies.length, 1);
    assert.deepEqual(decodeStun(replies[0]!), {
      kind: 'binding-success',
      transactionId: id,
      mapped: { address: '198.51.100.77', port: 5000 },
      other: { address: LIGHTHOUSE, port: 4242 },
    });
    assert.equal(lh.node.stats.dropped['stun-malformed'], 2);
    assert.equal(lh.node.stats.dropped['stun-unsolicited'], 1);
    await prober.close();
  });

  it('the lighthouse answers at most 10 STUN requests per second per source (no amplification of a spoofed flood)', async () => {
    const net = new MemoryNetwork();
    const lh = await startLighthouse(net);
    const flooder = net.bind('198.51.100.78', 5000);
    const other = net.bind('198.51.100.79', 5000);
    let flooded = 0;
    let answeredOther = 0;
    flooder.onDatagrams((batch) => (flooded += batch.length));
    other.onDatagrams((batch) => (answeredOther += batch.length));
    flooder.send(Array.from({ length: 50 }, () => ({ data: encodeBindingRequest(newTransactionId()), to: { address: LIGHTHOUSE, port: 4242 } })));
    other.send([{ data: encodeBindingRequest(newTransactionId()), to: { address: LIGHTHOUSE, port: 4242 } }]);
    await net.settle();
    await waitFor(() => answeredOther === 1, 2000, 'the other source answered');
    assert.equal(flooded, 10);
    assert.equal(lh.node.stats.dropped['stun-rate-limited'], 40);
    await Promise.all([flooder.close(), other.close()]);
  });
});
