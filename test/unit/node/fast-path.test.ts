/**
 * The native fast path against the JS path, differentially: two real MeshNodes with the same
 * certificate, config and injected tunnel (same keys), one with tun.fast_path off (JS alone), one
 * with it on, whose fake devices do what native/src/udp.cc and tun.cc do with a fast path: offer
 * each batch to its sans-I/O step (FastPath.inbound / outbound, the code the read callbacks run)
 * and hand only the rest to JS. Every step feeds both the same packets and checks that they
 * deliver the same bytes, send the same plaintexts with the same counters, and end with the same
 * tunnel state (replay window, send counter, traffic counters, liveness marks: the shared
 * memory), node counters, drop reasons, firewall counters and conntrack size; and how many packets
 * the fast path took, so that it cannot pass by handing everything to JS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createFastPath, tryLoadNative, type NativeFastPath } from '../../../src/io/native.js';
import { openSslAeadFactory } from '../../../src/io/openssl-aead.js';
import { TUN_HEADROOM, type TunDevice } from '../../../src/io/tun.js';
import type { Datagram, OutgoingDatagram, UdpBind } from '../../../src/io/udp.js';
import { nebulaConfig } from '../../../src/lab/configs.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';
import type { Endpoint } from '../../../src/net/endpoint.js';
import { parseConfig } from '../../../src/node/config.js';
import { HostInfo } from '../../../src/node/hostmap.js';
import { MeshNode } from '../../../src/node/node.js';
import type { AeadFactory } from '../../../src/protocol/aead.js';
import { encodeHeader, HEADER_LEN, MessageType } from '../../../src/protocol/header.js';
import { icmpEcho, ipv6Packet, tcpSegment, tcpSyn6, udpPacket } from '../../helpers/packets.js';

const native = tryLoadNative();
const skip = !native?.FastPath || !native.Aead ? 'the native addon (with FastPath and Aead) is not built' : false;

const ca = makeCA('Fast path CA', { version: 2 });
const self = makeHost(ca, 'self', '10.9.0.1/16,fd09::1/64');
const peer = makeHost(ca, 'peer', '10.9.0.2/16,fd09::2/64');
const SELF = '10.9.0.1';
const PEER = '10.9.0.2';
const SELF6 = 'fd09::1';
const PEER6 = 'fd09::2';
const LOCAL_INDEX = 0x1000_0001;
const REMOTE_INDEX = 0x2000_0002;
const PEER_ADDR: Endpoint = { address: '192.0.2.2', port: 4242 };
const MINUTE = 60_000;

const rules = (inbound: object[]) => ({
  conntrack: { tcp_timeout: '12m', udp_timeout: '3m', default_timeout: '10m', max_connections: 8 },
  outbound: [{ port: 'any', proto: 'any', host: 'any' }],
  inbound,
});
const INBOUND = [
  { port: 80, proto: 'tcp', host: 'any' },
  { port: 53, proto: 'udp', host: 'any' },
  { port: 'any', proto: 'icmp', host: 'any' },
];

function configOf(fastPath: boolean, inbound: object[]) {
  const raw = nebulaConfig({
    ca: self.ca,
    cert: self.certPem,
    key: self.keyPem,
    listen: { host: '192.0.2.1', port: 4242 },
    tun: { fastPath },
    extra: { firewall: rules(inbound) },
  });
  return parseConfig(raw, 'self.yml').config;
}

/** A TUN device that does with a fast path what the native one does: offer each read batch, hand JS the rest (with headroom). */
class TwinTun implements TunDevice {
  readonly name = 'twin0';
  readonly mtu = 1300;
  readonly headroom = TUN_HEADROOM;
  readonly written: Buffer[] = [];
  fast: NativeFastPath | null = null;
  fastSent: OutgoingDatagram[] = [];
  fastHandled = 0;
  private handler: ((packets: Buffer[]) => void) | undefined;

  onPackets(handler: (packets: Buffer[]) => void): void {
    this.handler = handler;
  }
  write(packets: readonly Uint8Array[]): void {
    for (const p of packets) this.written.push(Buffer.from(p));
  }
  attachFastPath(fastPath: NativeFastPath | null): void {
    this.fast = fastPath;
  }
  addRoute(): void {}
  removeRoute(): void {}
  close(): void {}

  read(packets: Buffer[], now: number): void {
    let rest = packets;
    if (this.fast) {
      const { buf, offsets, lengths } = pack(packets);
      const { handled, sent } = this.fast.outbound(buf, offsets, lengths, packets.length, now);
      for (const s of sent) this.fastSent.push({ data: s.data, to: { address: s.address, port: s.port } });
      rest = packets.filter((_p, i) => handled[i] === 0);
      this.fastHandled += packets.length - rest.length;
    }
    if (rest.length === 0) return;
    // One buffer, TUN_HEADROOM free bytes around each packet, as native/src/tun.cc delivers them.
    const total = rest.reduce((n, p) => n + p.length + 2 * TUN_HEADROOM, 0);
    const batch = new ArrayBuffer(total);
    let at = 0;
    const views = rest.map((p) => {
      const view = Buffer.from(batch, at + TUN_HEADROOM, p.length);
      p.copy(view);
      at += p.length + 2 * TUN_HEADROOM;
      return view;
    });
    this.handler!(views);
  }
}

/** A socket that does with a fast path what the native one does: offer each received batch, hand JS the rest. */
class TwinUdp implements UdpBind {
  readonly localPort = 4242;
  readonly sent: OutgoingDatagram[] = [];
  fast: NativeFastPath | null = null;
  fastWritten: Buffer[] = [];
  fastHandled = 0;
  private handler: ((batch: Datagram[]) => void) | undefined;

  onDatagrams(handler: (batch: Datagram[]) => void): void {
    this.handler = handler;
  }
  send(batch: readonly OutgoingDatagram[]): void {
    for (const d of batch) this.sent.push({ data: Buffer.from(d.data), to: { ...d.to } });
  }
  attachFastPath(fastPath: NativeFastPath | null): void {
    this.fast = fastPath;
  }
  async close(): Promise<void> {}

  receive(datagrams: Datagram[], now: number): void {
    // Each datagram in a fresh buffer of its own, as JS gets them from a native batch.
    let rest = datagrams.map((d) => ({ data: Buffer.from(d.data), from: { ...d.from } }));
    if (this.fast) {
      const { buf, offsets, lengths } = pack(rest.map((d) => d.data));
      const { handled, written } = this.fast.inbound(
        buf,
        offsets,
        lengths,
        rest.length,
        rest.map((d) => d.from.address),
        rest.map((d) => d.from.port),
        now,
      );
      this.fastWritten.push(...written);
      const before = rest.length;
      rest = rest.filter((_d, i) => handled[i] === 0);
      this.fastHandled += before - rest.length;
    }
    if (rest.length > 0) this.handler!(rest);
  }
}

function pack(packets: readonly Uint8Array[]): { buf: Uint8Array; offsets: Uint32Array; lengths: Uint32Array } {
  const buf = new Uint8Array(packets.reduce((n, p) => n + p.length, 0));
  const offsets = new Uint32Array(packets.length);
  const lengths = new Uint32Array(packets.length);
  let at = 0;
  packets.forEach((p, i) => {
    buf.set(p, at);
    offsets[i] = at;
    lengths[i] = p.length;
    at += p.length;
  });
  return { buf, offsets, lengths };
}

interface World {
  node: MeshNode;
  tun: TwinTun;
  udp: TwinUdp;
  host: HostInfo;
}

const toPeerKey = randomBytes(32);
const fromPeerKey = randomBytes(32);
let factory: AeadFactory;
/** The peer's halves: it seals with fromPeerKey, opens with toPeerKey. */
let peerSeal: ReturnType<AeadFactory>;
let peerOpen: ReturnType<AeadFactory>;

async function startWorld(fastPath: boolean): Promise<World> {
  const tun = new TwinTun();
  const udp = new TwinUdp();
  const log = pino({ level: 'silent' });
  const node = await MeshNode.start(configOf(fastPath, INBOUND), log, {
    openTun: () => tun,
    bindUdp: async () => udp,
    aead: { factory, name: 'openssl-native' },
    fastPath: createFastPath,
  });
  // A tunnel as a completed handshake leaves it (HandshakeManager.complete), keys known to the test.
  const host = new HostInfo(0, LOCAL_INDEX, node.hostmap.remotesFor(0));
  const identity = node.identity.peerIdentity(peer.cert);
  host.vpnIp = identity.vpnIp;
  host.remoteIndex = REMOTE_INDEX;
  host.window.update(1);
  host.window.update(2);
  host.encrypt = factory('aes', toPeerKey);
  host.decrypt = factory('aes', fromPeerKey);
  host.cert = peer.cert;
  host.identity = identity;
  host.vpnAddrs = identity.vpnAddrs;
  host.messageCounter = 2;
  host.remote = { ...PEER_ADDR };
  (node as unknown as { tunnelUp(h: HostInfo): void }).tunnelUp(host);
  return { node, tun, udp, host };
}

/** A datagram from the peer on the tunnel: header (our index, `counter`) and `inner` sealed. */
function fromPeer(inner: Buffer, counter: number, index = LOCAL_INDEX): Buffer {
  return peerSeal.encryptPacket(encodeHeader(MessageType.Message, 0, index, counter), counter, inner);
}

/** UDP over IPv6 (checksum left 0: the firewall does not look at it). */
function udp6(src: string, srcPort: number, dst: string, dstPort: number, data: Buffer, hopByHop = false): Buffer {
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  if (!hopByHop) return ipv6Packet(src, dst, 17, udp);
  const ext = Buffer.alloc(8);
  ext[0] = 17;
  return ipv6Packet(src, dst, 0, Buffer.concat([ext, udp]));
}

function tcpData(src: string, srcPort: number, dst: string, dstPort: number, seq: number): Buffer {
  return tcpSegment(src, srcPort, dst, dstPort, { seq, ack: 1, flags: 0x18, data: Buffer.from(`payload ${seq}`) });
}

function ipv4Fragment(inner: Buffer): Buffer {
  const p = Buffer.from(inner);
  p.writeUInt16BE(0x0010, 6); // fragment offset 16 (x 8 bytes), not the first fragment
  return p;
}

const sortedHex = (list: readonly Uint8Array[]) => list.map((b) => Buffer.from(b).toString('hex')).sort();

describe('native fast path: the same verdicts, counters and tunnel state as the JS path', { skip }, () => {
  let js: World;
  let fast: World;
  let clock = 0;
  const realNow = Date.now;
  let counter = 3;

  before(async () => {
    factory = openSslAeadFactory()!;
    peerSeal = factory('aes', fromPeerKey);
    peerOpen = factory('aes', toPeerKey);
    clock = realNow();
    Date.now = () => clock;
    js = await startWorld(false);
    fast = await startWorld(true);
  });

  after(async () => {
    await js?.node.stop();
    await fast?.node.stop();
    Date.now = realNow;
  });

  /** What both worlds did with the same input; returns how many packets the fast path took. */
  function compare(step: string, since: { written: number[]; sent: number[]; fastWritten: number; fastSent: number }): { fastIn: number; fastOut: number } {
    const [a, b] = [js, fast];
    assert.equal(a.udp.fast, null, 'the JS world has no fast path');
    assert.ok(b.udp.fast && b.tun.fast, 'the fast world has one');
    const delivered = (w: World, i: number, fastFrom: number) => [...w.tun.written.slice(since.written[i]), ...w.udp.fastWritten.slice(fastFrom)];
    assert.deepEqual(sortedHex(delivered(b, 1, since.fastWritten)), sortedHex(delivered(a, 0, 0).slice(0)), `${step}: delivered to TUN`);
    const sent = (w: World, i: number, fastFrom: number) => [...w.udp.sent.slice(since.sent[i]), ...w.tun.fastSent.slice(fastFrom)];
    const opened = (list: OutgoingDatagram[]) =>
      list.map((d) => {
        const data = Buffer.from(d.data);
        const plain = data.length >= HEADER_LEN + 16 ? peerOpen.decryptPacket(data, Number(data.readBigUInt64BE(8))) : null;
        // Tunnel traffic: its counter and plaintext (the order of counters may differ); anything else byte for byte.
        return `${d.to.address}:${d.to.port} ${plain ? `${data.subarray(0, 8).toString('hex')} ${plain.toString('hex')}` : data.toString('hex')}`;
      });
    const sentA = sent(a, 0, 0);
    const sentB = sent(b, 1, since.fastSent);
    assert.deepEqual(opened(sentB).sort(), opened(sentA).sort(), `${step}: sent`);
    assert.deepEqual(
      sentB.map((d) => Buffer.from(d.data)).filter((d) => d.length >= HEADER_LEN && (d[0]! & 0x0f) === 1).map((d) => d.readBigUInt64BE(8)).sort(),
      sentA.map((d) => Buffer.from(d.data)).filter((d) => d.length >= HEADER_LEN && (d[0]! & 0x0f) === 1).map((d) => d.readBigUInt64BE(8)).sort(),
      `${step}: the same message counters used`,
    );
    assert.deepEqual(Buffer.from(b.host.shared), Buffer.from(a.host.shared), `${step}: tunnel state (replay window, counters, liveness marks)`);
    const statsA = structuredClone(a.node.stats);
    const statsB = structuredClone(b.node.stats);
    assert.deepEqual(statsB, statsA, `${step}: node counters and drop reasons`);
    assert.deepEqual(b.node.firewall.stats.inbound, a.node.firewall.stats.inbound, `${step}: inbound firewall counters`);
    assert.deepEqual(b.node.firewall.stats.outbound, a.node.firewall.stats.outbound, `${step}: outbound firewall counters`);
    // Expired entries leave a table when it is next used: purged here, the sizes compare what is live.
    for (const w of [a, b]) w.node.firewall.purge(clock);
    assert.equal(b.node.firewall.conntrack.size, a.node.firewall.conntrack.size, `${step}: conntrack size`);
    assert.equal(b.host.remote?.address, a.host.remote?.address, `${step}: tunnel address`);
    return { fastIn: b.udp.fastHandled, fastOut: b.tun.fastHandled };
  }

  /** Feeds both worlds the same datagrams (from the peer unless said) and TUN packets; checks, and returns what the fast path took. */
  function step(name: string, input: { datagrams?: (Buffer | { data: Buffer; from: Endpoint })[]; tun?: Buffer[] }): { fastIn: number; fastOut: number } {
    const since = {
      written: [js.tun.written.length, fast.tun.written.length],
      sent: [js.udp.sent.length, fast.udp.sent.length],
      fastWritten: fast.udp.fastWritten.length,
      fastSent: fast.tun.fastSent.length,
    };
    const before = { fastIn: fast.udp.fastHandled, fastOut: fast.tun.fastHandled };
    const datagrams = (input.datagrams ?? []).map((d) => (Buffer.isBuffer(d) ? { data: d, from: PEER_ADDR } : d));
    for (const w of [js, fast]) {
      if (datagrams.length > 0) w.udp.receive(datagrams, clock);
      if (input.tun) w.tun.read(input.tun, clock);
    }
    const after = compare(name, since);
    return { fastIn: after.fastIn - before.fastIn, fastOut: after.fastOut - before.fastOut };
  }

  const next = () => counter++;

  it('takes an established flow after JS approved its first packet; replays, forged sources, wrong tunnels and bad tags stay JS drops', () => {
    assert.deepEqual(step('first packet of a flow', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 1), next())] }), { fastIn: 0, fastOut: 0 });
    const flow = [2, 3, 4, 5, 6].map((seq) => fromPeer(tcpData(PEER, 40000, SELF, 80, seq), next()));
    assert.deepEqual(step('established flow', { datagrams: flow }), { fastIn: 5, fastOut: 0 });
    assert.deepEqual(step('replays', { datagrams: [flow[1]!, flow[4]!, flow[4]!] }), { fastIn: 0, fastOut: 0 });
    const later = [0, 1, 2, 3].map(() => next());
    const reordered = [later[3]!, later[1]!, later[2]!, later[0]!].map((c, i) => fromPeer(tcpData(PEER, 40000, SELF, 80, 10 + i), c));
    assert.deepEqual(step('reordered within the window', { datagrams: reordered }), { fastIn: 4, fastOut: 0 });
    assert.deepEqual(step('replay of a reordered one', { datagrams: [reordered[2]!] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('forged inner source', { datagrams: [fromPeer(tcpData('10.9.0.7', 40000, SELF, 80, 20), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('wrong tunnel index', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 21), next(), LOCAL_INDEX + 1)] }), { fastIn: 0, fastOut: 0 });
    const tampered = fromPeer(tcpData(PEER, 40000, SELF, 80, 22), next());
    tampered[tampered.length - 1]! ^= 1;
    assert.deepEqual(step('bad tag', { datagrams: [tampered] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('the flow still goes fast', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 23), next())] }), { fastIn: 1, fastOut: 0 });
  });

  it('hands hostile lengths and odd headers to JS unchanged', () => {
    const valid = fromPeer(tcpData(PEER, 40000, SELF, 80, 30), next());
    const header = (counter: number | bigint) => {
      const h = encodeHeader(MessageType.Message, 0, LOCAL_INDEX, 0);
      h.writeBigUInt64BE(BigInt(counter), 8);
      return h;
    };
    const datagrams = [
      Buffer.alloc(0),
      Buffer.from([0x00]),
      valid.subarray(0, 15),
      valid.subarray(0, 16),
      valid.subarray(0, 31),
      valid.subarray(0, 32),
      valid.subarray(0, valid.length - 1),
      Buffer.concat([header(2n ** 60n), valid.subarray(16)]),
      Buffer.concat([header(2 ** 53), valid.subarray(16)]),
      Buffer.concat([header(5), Buffer.alloc(100, 0xff)]),
      // STUN-shaped: the magic cookie where the index is.
      Buffer.concat([Buffer.from([0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), Buffer.alloc(40)]),
      // Empty and non-IP plaintexts, sealed properly.
      fromPeer(Buffer.alloc(0), next()),
      fromPeer(Buffer.from([0x45, 0, 0, 20]), next()),
      fromPeer(Buffer.alloc(60, 0x75), next()),
    ];
    assert.deepEqual(step('hostile datagrams', { datagrams }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('the valid one, late', { datagrams: [valid] }), { fastIn: 1, fastOut: 0 });
  });

  it('forwards UDP, ICMP and IPv6 flows; leaves fragments and IPv6 extension headers to JS', () => {
    assert.deepEqual(step('UDP and ICMP, first packets', { datagrams: [fromPeer(udpPacket(PEER, 5353, SELF, 53, Buffer.from('q1')), next()), fromPeer(icmpEcho(PEER, SELF, 8, 7, 1), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('UDP and ICMP, then', { datagrams: [fromPeer(udpPacket(PEER, 5353, SELF, 53, Buffer.from('q2')), next()), fromPeer(icmpEcho(PEER, SELF, 8, 7, 2), next())] }), { fastIn: 2, fastOut: 0 });
    assert.deepEqual(step('IPv6 UDP, first', { datagrams: [fromPeer(udp6(PEER6, 5353, SELF6, 53, Buffer.from('v6 q1')), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('IPv6 UDP, then', { datagrams: [fromPeer(udp6(PEER6, 5353, SELF6, 53, Buffer.from('v6 q2')), next())] }), { fastIn: 1, fastOut: 0 });
    assert.deepEqual(step('IPv6 with a hop-by-hop header', { datagrams: [fromPeer(udp6(PEER6, 5353, SELF6, 53, Buffer.from('ext'), true), next()), fromPeer(udp6(PEER6, 5353, SELF6, 53, Buffer.from('ext'), true), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('IPv4 fragments', { datagrams: [fromPeer(ipv4Fragment(udpPacket(PEER, 5353, SELF, 53, Buffer.from('frag'))), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('IPv6 source forged as another peer address', { datagrams: [fromPeer(udp6('fd09::7', 5353, SELF6, 53, Buffer.from('x')), next())] }), { fastIn: 0, fastOut: 0 });
  });

  it('sends approved outbound flows natively, and their replies come back natively', () => {
    assert.deepEqual(step('outbound, first packet', { tun: [udpPacket(SELF, 5000, PEER, 9999, Buffer.from('o1'))] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('outbound, then', { tun: [udpPacket(SELF, 5000, PEER, 9999, Buffer.from('o2')), udpPacket(SELF, 5000, PEER, 9999, Buffer.from('o3'))] }), { fastIn: 0, fastOut: 2 });
    // udp 9999 is not allowed inbound: only the conntrack entry of our flow lets the reply in.
    assert.deepEqual(step('reply to it', { datagrams: [fromPeer(udpPacket(PEER, 9999, SELF, 5000, Buffer.from('r1')), next())] }), { fastIn: 1, fastOut: 0 });
    assert.deepEqual(step('unsolicited on another port', { datagrams: [fromPeer(udpPacket(PEER, 9999, SELF, 5001, Buffer.from('r2')), next())] }), { fastIn: 0, fastOut: 0 });
    // One batch: the fast path sees it before JS approved the flow, so both go through JS.
    assert.deepEqual(step('IPv6 TCP out, one batch', { tun: [tcpSyn6(SELF6, 6000, PEER6, 22), tcpSyn6(SELF6, 6000, PEER6, 22)] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('IPv6 TCP out, next batch', { tun: [tcpSyn6(SELF6, 6000, PEER6, 22)] }), { fastIn: 0, fastOut: 1 });
    assert.deepEqual(step('to an address with no tunnel', { tun: [udpPacket(SELF, 5000, '10.9.0.99', 9999, Buffer.from('nobody'))] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('mixed batch', { tun: [udpPacket(SELF, 5000, PEER, 9999, Buffer.from('m1')), udpPacket(SELF, 5002, PEER, 9999, Buffer.from('m2')), udpPacket(SELF, 5000, PEER, 9999, Buffer.from('m3'))] }), { fastIn: 0, fastOut: 2 });
  });

  it('lets expired flows go back to JS (a reply after expiry is judged against the inbound rules), and keeps flows the fast path refreshed alive in JS', () => {
    // Kept alive by fast-path traffic only: JS must not see the flow as expired.
    for (let i = 0; i < 4; i++) {
      clock += 1 * MINUTE;
      assert.deepEqual(step(`outbound refresh ${i}`, { tun: [udpPacket(SELF, 5000, PEER, 9999, Buffer.from(`k${i}`))] }), { fastIn: 0, fastOut: 1 });
    }
    clock += 1 * MINUTE;
    assert.deepEqual(step('reply after 5 min of fast-path-only traffic', { datagrams: [fromPeer(udpPacket(PEER, 9999, SELF, 5000, Buffer.from('alive')), next())] }), { fastIn: 1, fastOut: 0 });
    clock += 4 * MINUTE;
    assert.deepEqual(step('reply after the udp timeout', { datagrams: [fromPeer(udpPacket(PEER, 9999, SELF, 5000, Buffer.from('late')), next())] }), { fastIn: 0, fastOut: 0 });
    clock += 13 * MINUTE;
    assert.deepEqual(step('tcp after its timeout: allowed by the rules again', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 40), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('and fast again', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 41), next())] }), { fastIn: 1, fastOut: 0 });
  });

  it('evicts to max_connections in both (an evicted flow goes back to JS)', () => {
    // Every earlier flow expires; then each flow at its own millisecond (the table breaks ties of
    // equal expiry by its own order, which the fast path's refreshes do not keep).
    clock += 13 * MINUTE;
    for (let i = 0; i < 10; i++) {
      clock += 1;
      assert.deepEqual(step(`new flow ${i}, table of 8`, { datagrams: [fromPeer(udpPacket(PEER, 7000 + i, SELF, 53, Buffer.from(`e${i}`)), next())] }), { fastIn: 0, fastOut: 0 });
    }
    let took = 0;
    for (let i = 9; i >= 0; i--) {
      clock += 1;
      took += step(`flow ${i} again`, { datagrams: [fromPeer(udpPacket(PEER, 7000 + i, SELF, 53, Buffer.from(`f${i}`)), next())] }).fastIn;
    }
    assert.ok(took > 0 && took < 10, `some evicted, some kept: ${took}`);
  });

  it('roams with JS, then forwards from the new address', () => {
    const moved = { address: '192.0.2.3', port: 5555 };
    assert.deepEqual(step('from a new address', { datagrams: [{ data: fromPeer(tcpData(PEER, 40000, SELF, 80, 50), next()), from: moved }] }), { fastIn: 0, fastOut: 0 });
    assert.equal(fast.host.remote?.address, moved.address);
    assert.deepEqual(step('from it again', { datagrams: [{ data: fromPeer(tcpData(PEER, 40000, SELF, 80, 51), next()), from: moved }] }), { fastIn: 1, fastOut: 0 });
    assert.deepEqual(step('outbound goes there', { tun: [udpPacket(SELF, 5000, PEER, 9999, Buffer.from('to moved'))] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('outbound fast there', { tun: [udpPacket(SELF, 5000, PEER, 9999, Buffer.from('to moved 2'))] }), { fastIn: 0, fastOut: 1 });
    assert.equal(fast.tun.fastSent.at(-1)!.to.address, moved.address);
    assert.deepEqual(step('the old address is no longer the tunnel', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 52), next())] }), { fastIn: 0, fastOut: 0 });
  });

  it('after a firewall reload, flows the new rules forbid are dropped by both; allowed ones go fast again', async () => {
    // Back on the first address (both worlds roam there through JS, once roaming back is no longer suppressed).
    clock += 3000;
    step('back home', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 60), next())] });
    assert.deepEqual(step('tcp fast before the reload', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 61), next())] }), { fastIn: 1, fastOut: 0 });
    const noTcp = INBOUND.filter((r) => r.proto !== 'tcp');
    for (const w of [js, fast]) await w.node.reload(configOf(w === fast, noTcp));
    assert.deepEqual(step('tcp after a reload without tcp 80', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 62), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('still dropped', { datagrams: [fromPeer(tcpData(PEER, 40000, SELF, 80, 63), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('udp 53 re-checked under the new rules', { datagrams: [fromPeer(udpPacket(PEER, 5353, SELF, 53, Buffer.from('q3')), next())] }), { fastIn: 0, fastOut: 0 });
    assert.deepEqual(step('then fast', { datagrams: [fromPeer(udpPacket(PEER, 5353, SELF, 53, Buffer.from('q4')), next())] }), { fastIn: 1, fastOut: 0 });
  });

  it('stops forwarding a removed tunnel (JS answers with recv_error as before)', () => {
    for (const w of [js, fast]) w.node.removeTunnel(w.host, false);
    assert.deepEqual(step('after removal', { datagrams: [fromPeer(udpPacket(PEER, 5353, SELF, 53, Buffer.from('gone')), next())] }), { fastIn: 0, fastOut: 0 });
    assert.equal(fast.node.fastPathTotals()!.tunnels, 0);
  });
});

/** Random bytes of `len` shaped as IPv4 or IPv6 far enough to reach the fast path's flow parsing. */
function shapedPacket(family: 4 | 6, len: number, v6Destination: number[]): Buffer {
  const p = randomBytes(len);
  const at = (i: number, value: number) => {
    if (i < len) p[i] = value;
  };
  const protocols = family === 4 ? [1, 6, 17] : [6, 17, 58];
  if (family === 4) {
    at(0, 0x40 | (5 + Math.floor(Math.random() * 11)));
    at(6, p[6]! & 0x40);
    at(7, 0);
    at(9, Math.random() < 0.8 ? protocols[Math.floor(Math.random() * 3)]! : p[9]!);
    [10, 9, 0, 2].forEach((b, i) => at(16 + i, b));
  } else {
    at(0, 0x60);
    at(6, protocols[Math.floor(Math.random() * 3)]!);
    v6Destination.forEach((b, i) => at(24 + i, b));
  }
  return p;
}

describe('native fast path: hostile input', { skip }, () => {
  it('never reads or writes out of bounds, and rejects entries outside the buffer', () => {
    const fp = createFastPath()!;
    const factory = openSslAeadFactory()!;
    const shared = new ArrayBuffer(200);
    const record = (family: number, bytes: number[]) => Uint8Array.from([family, ...bytes, ...Array(16 - bytes.length).fill(0)]);
    const encrypt = factory('aes', randomBytes(32)).native!;
    const peerKey = randomBytes(32);
    const decrypt = factory('aes', peerKey).native!;
    const v6 = [0xfd, 0x09, ...Array(13).fill(0), 2];
    const overlay = Buffer.concat([record(4, [10, 9, 0, 2]), record(6, v6)]);
    assert.equal(fp.setTunnel(7, 9, '192.0.2.2', 4242, record(4, [10, 9, 0, 2]), overlay, encrypt, decrypt, shared), true);
    assert.equal(fp.setTunnel(8, 9, '192.0.2.2', 4242, record(4, [10, 9, 0, 3]), new Uint8Array(0), {}, decrypt, shared), false, 'a non-native AEAD is refused');
    assert.throws(() => fp.setTunnel(8, 9, '192.0.2.2', 4242, record(4, [10, 9, 0, 3]), new Uint8Array(0), encrypt, decrypt, new ArrayBuffer(16)), RangeError);
    assert.throws(() => fp.setTunnel(8, 9, 'not an address', 4242, record(4, [10, 9, 0, 3]), new Uint8Array(0), encrypt, decrypt, shared), RangeError);
    const buf = new Uint8Array(64);
    assert.throws(() => fp.inbound(buf, Uint32Array.of(60), Uint32Array.of(10), 1, ['192.0.2.2'], [4242], 0), RangeError);
    assert.throws(() => fp.outbound(buf, Uint32Array.of(0xffffffff), Uint32Array.of(2), 1, 0), RangeError);
    assert.throws(() => fp.outbound(buf, Uint32Array.of(0), Uint32Array.of(1), 2, 0), TypeError);
    // Random datagrams with our index and packets to the tunnel's address: handed back, nothing written.
    for (let round = 0; round < 2000; round++) {
      const len = Math.floor(Math.random() * 120);
      const d = randomBytes(len);
      if (len >= 8) {
        d[0] = 0x11;
        d[1] = 0;
        d.writeUInt32BE(7, 4);
      }
      const r = fp.inbound(d, Uint32Array.of(0), Uint32Array.of(len), 1, ['192.0.2.2'], [4242], 0);
      assert.equal(r.handled[0], 0);
      assert.equal(r.written.length, 0);
      const p = randomBytes(len);
      if (len >= 20) {
        p[0] = 0x45;
        Buffer.from([10, 9, 0, 2]).copy(p, 16);
      }
      const o = fp.outbound(p, Uint32Array.of(0), Uint32Array.of(len), 1, 0);
      assert.equal(o.handled[0], 0, 'no flow installed: nothing is sent');
    }
    // Authenticated but hostile: inner packets sealed with the tunnel's key and shaped to pass the
    // first checks (IPv4 without fragment bits and any header length, IPv6 carrying TCP, UDP or
    // ICMPv6, our peer's address as destination), so that the parsing behind them meets every short
    // length. No flow is installed: each one is JS's.
    const peerSeal = factory('aes', peerKey);
    for (let round = 0; round < 3000; round++) {
      const inner = shapedPacket(round % 2 === 0 ? 4 : 6, round % 7 === 0 ? Math.floor(Math.random() * 100) : 16 + Math.floor(Math.random() * 56), v6);
      const counter = round + 1;
      const d = peerSeal.encryptPacket(encodeHeader(MessageType.Message, 0, 7, counter), counter, inner);
      const r = fp.inbound(d, Uint32Array.of(0), Uint32Array.of(d.length), 1, ['192.0.2.2'], [4242], 0);
      assert.equal(r.handled[0], 0);
      assert.equal(r.written.length, 0);
      const o = fp.outbound(inner, Uint32Array.of(0), Uint32Array.of(inner.length), 1, 0);
      assert.equal(o.handled[0], 0, 'no flow installed: nothing is sent');
    }
    assert.deepEqual(Buffer.from(shared), Buffer.alloc(200), 'nothing forwarded, nothing sent: the shared state is untouched');
  });
});
