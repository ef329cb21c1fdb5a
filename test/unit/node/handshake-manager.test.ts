/**
 * The handshake manager alone, on fakes of the capabilities it takes: a recorded wire, a fake
 * clock, and callbacks that count tunnels. No node, no sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { makeCA, makeHost, type TestHost } from '../../../src/lab/pki.js';
import type { Endpoint } from '../../../src/net/endpoint.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { createAead, type AeadFactory } from '../../../src/protocol/aead.js';
import { parseHeader } from '../../../src/protocol/header.js';
import { Diagnostics, LOG_LINES_BURST } from '../../../src/node/diagnostics.js';
import { HandshakeManager } from '../../../src/node/handshake-manager.js';
import { HostMap, type HostInfo } from '../../../src/node/hostmap.js';
import { LocalIdentity } from '../../../src/node/identity.js';
import { FakeTimers } from '../../helpers/fake-timers.js';
import { STAGE1_BURST } from '../../../src/node/source-limiter.js';

const ca = makeCA('handshake CA');
const TRY_INTERVAL = 100;
const RETRIES = 4;

interface Sent {
  data: Buffer;
  to: Endpoint;
}

interface Peer {
  name: string;
  address: Endpoint;
  identity: LocalIdentity;
  hostmap: HostMap;
  diag: Diagnostics;
  manager: HandshakeManager;
  /** Datagrams this peer put on the wire, in order. */
  sent: Sent[];
  up: HostInfo[];
  candidates: HostInfo[];
  tests: HostInfo[];
}

/** Log messages at info and above, to check what a flood makes us write. */
function capturingLogger(lines: string[]) {
  return pino({ level: 'info' }, new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)).msg);
        done();
      },
    }),);
}

/** handshakes.incoming_per_second and incoming_burst of the peers a test makes (the defaults unless it changes them). */
interface Incoming {
  incomingPerSecond: number;
  incomingBurst: number;
}

function peer(host: TestHost, port: number, timers: FakeTimers, logLines?: string[], incoming: Incoming = { incomingPerSecond: 2000, incomingBurst: 4000 }, aead: AeadFactory = createAead): Peer {
  const identity = LocalIdentity.fromConfig({ ca: host.ca, cert: host.certPem, key: host.keyPem, blocklist: [], disconnectInvalid: false, revocations: '' });
  const hostmap = new HostMap();
  const diag = new Diagnostics(logLines ? capturingLogger(logLines) : pino({ level: 'silent' }), () => timers.now());
  const p: Peer = { name: host.name, address: { address: '127.0.0.1', port }, identity, hostmap, diag, sent: [], up: [], candidates: [], tests: [] } as unknown as Peer;
  p.manager = new HandshakeManager({
    hostmap,
    diag,
    timers,
    aead,
    identity: () => identity,
    settings: () => ({ cipher: 'aes', tryInterval: TRY_INTERVAL, retries: RETRIES, ...incoming }),
    remoteAllowed: () => true,
    sendRaw: (data, to) => void p.sent.push({ data: Buffer.from(data), to }),
    reply: (message, to) => {
      if (to) p.sent.push({ data: message, to });
    },
    sendTest: (h) => void p.tests.push(h),
    tunnelUp: (h) => {
      hostmap.add(h);
      p.up.push(h);
    },
    addCandidate: (h) => {
      hostmap.addCandidate(h);
      p.candidates.push(h);
    },
    onStart: () => {},
    onAttempt: () => {},
  });
  return p;
}

/** Hands every datagram `from` sent since `since` to `to`'s manager, as the outside path would. */
function deliver(from: Peer, to: Peer, since = 0): number {
  const batch = from.sent.slice(since);
  for (const { data } of batch) {
    const header = parseHeader(data)!;
    if (header.counter === 1) to.manager.handleStage1(data, from.address);
    else to.manager.handleStage2(data, header, from.address);
  }
  return from.sent.length;
}

function pair(): { timers: FakeTimers; a: Peer; b: Peer } {
  const timers = new FakeTimers();
  const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, timers);
  const b = peer(makeHost(ca, 'b', '10.9.0.2/16'), 4002, timers);
  a.hostmap.remotesFor(b.identity.vpnIp).setStatic([b.address]);
  b.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
  return { timers, a, b };
}

describe('HandshakeManager on fakes', () => {
  it('completes Noise IX both ways with keys that fit together', () => {
    const { a, b } = pair();
    a.manager.start(b.identity.vpnIp);
    assert.equal(a.sent.length, 1, 'a peer with a static address is tried at once');
    deliver(a, b);
    assert.equal(b.up.length, 1, 'the responder is up after message 1');
    deliver(b, a);
    assert.equal(a.up.length, 1, 'the initiator is up after message 2');
    const [ha, hb] = [a.up[0]!, b.up[0]!];
    assert.equal(ha.remoteIndex, hb.localIndex);
    assert.equal(hb.remoteIndex, ha.localIndex);
    assert.deepEqual(hb.remote, a.address);
    const header = Buffer.alloc(16, 1);
    const sealed = ha.encrypt!.encryptPacket(header, 3, Buffer.from('through the tunnel'));
    assert.equal(hb.decrypt!.decryptPacket(sealed, 3)?.toString(), 'through the tunnel');
    assert.equal(a.hostmap.pendingSize, 0);
  });

  it('rehearses a handshake in memory only while it has none, sending and keeping nothing', () => {
    const timers = new FakeTimers();
    let made = 0;
    const counting: AeadFactory = (cipher, key) => {
      made++;
      return createAead(cipher, key);
    };
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, timers, undefined, undefined, counting);
    a.manager.rehearse();
    assert.equal(made, 4, 'both sides of a handshake ran (two transport AEADs each)');
    assert.deepEqual([a.sent.length, a.up.length, a.hostmap.size, a.hostmap.pendingSize, timers.pending], [0, 0, 0, 0, 0]);
    a.manager.start(parseIp('10.9.0.2'));
    made = 0;
    a.manager.rehearse();
    assert.equal(made, 0, 'a real handshake under way: no rehearsal');
  });

  it('a failed rehearsal is logged, not thrown', () => {
    const lines: string[] = [];
    const broken: AeadFactory = () => {
      throw new Error('no such cipher here');
    };
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, new FakeTimers(), lines, undefined, broken);
    assert.doesNotThrow(() => a.manager.rehearse());
    assert.deepEqual(lines, ['handshake rehearsal failed']);
  });

  it('logs a tunnel up only after the handshake sent what it had to (a microtask later)', async () => {
    const timers = new FakeTimers();
    const [aLines, bLines]: string[][] = [[], []];
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, timers, aLines);
    const b = peer(makeHost(ca, 'b', '10.9.0.2/16'), 4002, timers, bLines);
    a.hostmap.remotesFor(b.identity.vpnIp).setStatic([b.address]);
    a.manager.start(b.identity.vpnIp);
    deliver(a, b);
    assert.equal(b.sent.length, 1, 'message 2 is out');
    assert.equal(b.up.length, 1);
    assert.deepEqual(bLines, [], 'not logged in the same turn as the answer');
    deliver(b, a);
    assert.equal(a.up.length, 1);
    assert.deepEqual(aLines, []);
    await Promise.resolve();
    assert.deepEqual(bLines, ['handshake message 1 received, tunnel up (responder)']);
    assert.deepEqual(aLines, ['handshake message 2 received, tunnel up (initiator)']);
  });

  it('retransmits the same bytes with linear back-off, then gives up', () => {
    const { timers, a, b } = pair();
    a.manager.start(b.identity.vpnIp);
    timers.advance(TRY_INTERVAL - 1);
    assert.equal(a.sent.length, 1, 'no retry before try_interval');
    timers.advance(1);
    assert.equal(a.sent.length, 2);
    timers.advance(2 * TRY_INTERVAL);
    assert.equal(a.sent.length, 3, 'the second wait is twice as long');
    assert.ok(a.sent.every((s) => s.data.equals(a.sent[0]!.data)), 'retransmissions are byte-identical');
    timers.advance(100 * TRY_INTERVAL);
    assert.equal(a.sent.length, RETRIES);
    assert.equal(a.diag.stats.handshakeTimeouts, 1);
    assert.equal(a.hostmap.pendingSize, 0);
    assert.equal(timers.pending, 0, 'no timer left behind');
  });

  it('answers a retransmitted message 1 with the same message 2 and no second tunnel', () => {
    const { a, b } = pair();
    a.manager.start(b.identity.vpnIp);
    deliver(a, b);
    deliver(a, b);
    assert.equal(b.up.length, 1);
    assert.equal(b.sent.length, 2);
    assert.ok(b.sent[1]!.data.equals(b.sent[0]!.data));
  });

  it('keeps a newer handshake next to an established tunnel as a candidate', () => {
    const { a, b } = pair();
    a.manager.start(b.identity.vpnIp);
    deliver(a, b);
    // a restarts: a new handshake with a later clock reaches b while b's tunnel is up.
    const restarted = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, new FakeTimers());
    restarted.hostmap.remotesFor(b.identity.vpnIp).setStatic([b.address]);
    restarted.manager.start(b.identity.vpnIp);
    deliver(restarted, b);
    assert.equal(b.up.length, 1, 'the running tunnel stays');
    assert.equal(b.candidates.length, 1, 'the newer one waits for traffic');
  });

  it('settles a simultaneous open in favour of the higher overlay IP', () => {
    const { a, b } = pair();
    a.manager.start(b.identity.vpnIp);
    b.manager.start(a.identity.vpnIp);
    const aSent = a.sent.length;
    const bSent = b.sent.length;
    deliver(b, a, 0);
    assert.equal(a.up.length, 1, 'a (lower IP) abandons its own and answers b');
    assert.equal(a.hostmap.getPending(b.identity.vpnIp), undefined);
    deliver(a, b, aSent - 1);
    assert.equal(b.up.length, 1, 'b ignores a\'s message 1 and completes its own');
    assert.equal(b.sent.length, bSent, 'b sent no message 2');
  });

  it('refuses a handshake from our own certificate without a log line per datagram', () => {
    const lines: string[] = [];
    const aTimers = new FakeTimers();
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, aTimers, lines);
    const self = peer(makeHost(ca, 'a2', '10.9.0.1/16'), 4003, new FakeTimers());
    self.hostmap.remotesFor(parseIp('10.9.0.2')).setStatic([a.address]);
    self.manager.start(parseIp('10.9.0.2'));
    for (let i = 0; i < 50; i++) deliver(self, a);
    assert.equal(a.up.length, 0);
    assert.equal(a.sent.length, 0);
    assert.deepEqual(lines, ['refusing to handshake with myself'], 'one line for 50 datagrams within a second');
    aTimers.advance(1000);
    deliver(self, a);
    assert.equal(lines.length, 2, 'a line again a second later');
  });

  it('a flood of message 1s from many addresses (forged, our own, genuine new peers) writes a bounded number of log lines', async () => {
    const lines: string[] = [];
    const timers = new FakeTimers();
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, timers, lines);
    const rogue = makeCA('handshake CA');
    const initiators = [
      ...Array.from({ length: 20 }, (_, i) => makeHost(rogue, `forged${i}`, `10.9.1.${i + 1}/16`)),
      makeHost(ca, 'a-again', '10.9.0.1/16'),
      ...Array.from({ length: 150 }, (_, i) => makeHost(ca, `new${i}`, `10.9.2.${i + 1}/16`)),
    ];
    const message1s = initiators.map((host, i) => {
      const p = peer(host, 5000 + i, new FakeTimers());
      p.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
      p.manager.start(a.identity.vpnIp);
      return p.sent[0]!.data;
    });
    // Each from its own address, so that the per-source admission lets every one through.
    for (let i = 0; i < 1000; i++) a.manager.handleStage1(message1s[i % message1s.length]!, { address: `198.18.${i >> 8}.${i & 255}`, port: 4242 });
    await Promise.resolve(); // the tunnel-up lines, written once the batch's sends are out
    assert.ok(a.diag.stats.invalidCertificates >= 20 * 5, 'the forged ones were checked');
    assert.ok(a.up.length >= 150, 'the genuine ones were answered');
    assert.ok(lines.length <= LOG_LINES_BURST, `${lines.length} lines for 1000 message 1s at one instant`);
    timers.advance(1000);
    a.manager.handleStage1(message1s[0]!, { address: '198.18.200.1', port: 4242 });
    assert.equal(lines.at(-2), 'log rate limit: lines caused by remote packets were suppressed', 'what was held back is reported');
  });

  it('checks the certificate before any DH: a forged one with a low-order key is refused as an invalid certificate', () => {
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, new FakeTimers());
    const forger = peer(makeHost(makeCA('handshake CA'), 'forged', '10.9.0.9/16'), 4009, new FakeTimers());
    forger.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
    forger.manager.start(a.identity.vpnIp);
    const m1 = Buffer.from(forger.sent[0]!.data);
    m1.fill(0, 16, 48); // a low-order ephemeral key: the first DH would fail
    a.manager.handleStage1(m1, forger.address);
    assert.equal(a.diag.stats.invalidCertificates, 1, 'refused for its certificate');
    assert.equal(a.diag.stats.dropped['handshake1'], undefined, 'no DH was attempted');
    assert.equal(a.sent.length, 0);
  });

  it('admits a burst of message 1s per source address before any public-key work, then counts drops', () => {
    const timers = new FakeTimers();
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, timers);
    const b = peer(makeHost(ca, 'b', '10.9.0.2/16'), 4002, new FakeTimers());
    b.hostmap.remotesFor(parseIp('10.9.0.1')).setStatic([a.address]);
    b.manager.start(parseIp('10.9.0.1'));
    const m1 = b.sent[0]!.data;
    const receive = () => {
      if (a.manager.admitStage1(b.address)) a.manager.handleStage1(m1, b.address);
    };
    for (let i = 0; i < 100; i++) receive();
    assert.equal(a.diag.stats.dropped['handshake1-rate'], 100 - STAGE1_BURST);
    assert.equal(a.sent.length, STAGE1_BURST, 'one message 2 per admitted message 1');
    timers.advance(1000);
    receive();
    assert.equal(a.sent.length, STAGE1_BURST + 1, 'admitted again after the bucket refilled');
  });

  it('drops malformed message 1 as a counted drop', () => {
    const { a, b } = pair();
    a.manager.start(b.identity.vpnIp);
    const bad = Buffer.from(a.sent[0]!.data);
    bad[40] = bad[40]! ^ 0xff;
    bad.writeUInt32BE(0xffffffff, bad.length - 4);
    b.manager.handleStage1(bad.subarray(0, 60), a.address);
    assert.equal(b.diag.stats.dropped['handshake1'], 1);
    assert.equal(b.up.length, 0);
  });

  it('bounds certificate checks across many source addresses (handshakes.incoming_per_second), then refills at the rate', () => {
    const timers = new FakeTimers();
    const incoming = { incomingPerSecond: 5, incomingBurst: 10 };
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, timers, undefined, incoming);
    const rogue = makeCA('handshake CA');
    const forger = peer(makeHost(rogue, 'forged', '10.9.1.1/16'), 4100, new FakeTimers());
    forger.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
    forger.manager.start(a.identity.vpnIp);
    const forged = forger.sent[0]!.data;
    // One message 1 per address: the per-source admission never binds, only the global budget does.
    let source = 0;
    const flood = (n: number) => {
      for (let i = 0; i < n; i++, source++) {
        const from = { address: `198.18.${source >> 8}.${source & 255}`, port: 4242 };
        if (a.manager.admitStage1(from)) a.manager.handleStage1(forged, from);
      }
    };
    flood(1000);
    assert.equal(a.diag.stats.invalidCertificates, 10, 'the burst was checked');
    assert.equal(a.diag.stats.dropped['handshake1-budget'], 990);
    assert.equal(a.diag.stats.dropped['handshake1-rate'], undefined);

    // A genuine new peer in the flood waits for the budget like everyone else, then gets through.
    const fresh = peer(makeHost(ca, 'fresh', '10.9.0.7/16'), 4007, new FakeTimers());
    fresh.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
    fresh.manager.start(a.identity.vpnIp);
    deliver(fresh, a);
    assert.equal(a.up.length, 0);
    assert.equal(a.diag.stats.dropped['handshake1-budget'], 991);
    timers.advance(200); // one token
    deliver(fresh, a);
    assert.equal(a.up.length, 1, 'admitted once the budget refilled');

    timers.advance(1000);
    flood(1000);
    assert.equal(a.diag.stats.invalidCertificates, 15, 'a second later: the rate, not the burst');
    timers.advance(60_000);
    flood(1000);
    assert.equal(a.diag.stats.invalidCertificates, 25, 'after a quiet minute: the burst again, not more');
    incoming.incomingPerSecond = 1000; // a reload applies at once
    timers.advance(1000);
    flood(1000);
    assert.equal(a.diag.stats.invalidCertificates, 35, 'the burst still caps what was saved up');
  });

  it('admits the peers we hold a tunnel or a pending handshake with, at their known address, while new sources exhaust the budget', () => {
    const timers = new FakeTimers();
    const incoming = { incomingPerSecond: 1, incomingBurst: 1 };
    const a = peer(makeHost(ca, 'a', '10.9.0.1/16'), 4001, timers, undefined, incoming);
    const bHost = makeHost(ca, 'b', '10.9.0.2/16');
    const cHost = makeHost(ca, 'c', '10.9.0.3/16');
    const b = peer(bHost, 4002, new FakeTimers());
    const c = peer(cHost, 4003, new FakeTimers());
    for (const p of [b, c]) p.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
    // a has a tunnel with b, made before the flood (it takes the one token).
    b.manager.start(a.identity.vpnIp);
    deliver(b, a);
    assert.equal(a.up.length, 1);
    // a is handshaking with c (c has the higher overlay IP, so c's simultaneous message 1 wins).
    a.hostmap.remotesFor(c.identity.vpnIp).setStatic([c.address]);
    a.manager.start(c.identity.vpnIp);

    const fresh = peer(makeHost(ca, 'fresh', '10.9.0.9/16'), 4009, new FakeTimers());
    fresh.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
    fresh.manager.start(a.identity.vpnIp);
    deliver(fresh, a);
    assert.equal(a.diag.stats.dropped['handshake1-budget'], 1, 'the budget is spent');

    // b restarted: its new handshake comes from the address of the tunnel and is checked.
    const bAgain = peer(bHost, 4002, new FakeTimers());
    bAgain.hostmap.remotesFor(a.identity.vpnIp).setStatic([a.address]);
    timers.advance(1); // a later handshake time than the tunnel's, well within the spent budget
    bAgain.manager.start(a.identity.vpnIp);
    deliver(bAgain, a);
    assert.equal(a.candidates.length, 1, "b's newer handshake was answered");
    // c answers our pending handshake with its own message 1, from the address we are trying.
    c.manager.start(a.identity.vpnIp);
    deliver(c, a);
    assert.equal(a.up.length, 2, 'the pending peer got through');
    assert.equal(a.diag.stats.dropped['handshake1-budget'], 1);

    // The same certificate from an address we do not know for it is a new source like any other.
    const elsewhere = { address: '198.18.0.1', port: 4002 };
    a.manager.handleStage1(bAgain.sent[0]!.data, elsewhere);
    assert.equal(a.diag.stats.dropped['handshake1-budget'], 2);
  });
});
