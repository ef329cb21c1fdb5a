/**
 * The TUN offload code of the native addon (native/src/offload.cc) on crafted and hostile input:
 * splitting super-packets read with a virtio_net_hdr (TSO4/6, USO, partial checksums) and
 * coalescing TCP segments into super-packets for writing. No device needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadNative } from '../../../src/io/native.js';
import { checksum } from '../../helpers/packets.js';

const { segmentTunFrame, coalesceTunPackets } = loadNative();

const NEEDS_CSUM = 1;
const GSO_NONE = 0;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_UDP_L4 = 5;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const CWR = 0x80;
const SYN = 0x02;

interface Vnet {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}

/** A virtio_net_hdr (host byte order, little-endian here) followed by the packet. */
/**
 * A damaged packet is never merged, so every write is either one input byte for byte or a run that
 * splits back into its inputs, in order.
 */
function assertWritesSplitBackInto(writes: Buffer[], packets: Buffer[]): void {
  let next = 0;
  for (const w of writes) {
    if (readVnet(w).gsoType === GSO_NONE) {
      assert.deepEqual(w, Buffer.concat([Buffer.alloc(10), packets[next]!]));
      next++;
    } else {
      const split = segmentTunFrame(w)!;
      assert.deepEqual(split, packets.slice(next, next + split.length));
      next += split.length;
    }
  }
  assert.equal(next, packets.length);
}

function frame(v: Vnet, packet: Buffer): Buffer {
  const h = Buffer.alloc(10);
  h[0] = v.flags ?? 0;
  h[1] = v.gsoType ?? GSO_NONE;
  h.writeUInt16LE(v.hdrLen ?? 0, 2);
  h.writeUInt16LE(v.gsoSize ?? 0, 4);
  h.writeUInt16LE(v.csumStart ?? 0, 6);
  h.writeUInt16LE(v.csumOffset ?? 0, 8);
  return Buffer.concat([h, packet]);
}

function readVnet(b: Buffer): Required<Vnet> {
  return { flags: b[0]!, gsoType: b[1]!, hdrLen: b.readUInt16LE(2), gsoSize: b.readUInt16LE(4), csumStart: b.readUInt16LE(6), csumOffset: b.readUInt16LE(8) };
}

/** One's complement sum of the pseudo-header, uncomplemented (what CHECKSUM_PARTIAL leaves in the field). */
function pseudoSum(ip: Buffer, protocol: number, l4Length: number): number {
  const v4 = ip[0]! >> 4 === 4;
  const addrs = v4 ? ip.subarray(12, 20) : ip.subarray(8, 40);
  const p = Buffer.alloc(addrs.length + 4);
  addrs.copy(p);
  p.writeUInt16BE(protocol, addrs.length);
  p.writeUInt16BE(l4Length, addrs.length + 2);
  return ~checksum(p) & 0xffff;
}

interface Tcp {
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  options?: Buffer;
  id?: number;
  srcPort?: number;
  v6?: boolean;
  /** Leave the TCP checksum as the pseudo-header sum (as the kernel hands over with NEEDS_CSUM). */
  partial?: boolean;
}

const SRC4 = [10, 42, 0, 1];
const DST4 = [10, 42, 0, 2];

function ipHeader(v6: boolean, protocol: number, l4Length: number, id: number): Buffer {
  if (v6) {
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(l4Length, 4);
    h[6] = protocol;
    h[7] = 64;
    h[8] = 0xfd;
    h[23] = 1;
    h[24] = 0xfd;
    h[39] = 2;
    return h;
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4Length, 2);
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(0x4000, 6);
  h[8] = 64;
  h[9] = protocol;
  h.set(SRC4, 12);
  h.set(DST4, 16);
  h.writeUInt16BE(checksum(h), 10);
  return h;
}

function tcpPacket(data: Buffer, t: Tcp = {}): Buffer {
  const options = t.options ?? Buffer.alloc(0);
  const tcp = Buffer.alloc(20 + options.length + data.length);
  tcp.writeUInt16BE(t.srcPort ?? 40000, 0);
  tcp.writeUInt16BE(5201, 2);
  tcp.writeUInt32BE((t.seq ?? 1000) >>> 0, 4);
  tcp.writeUInt32BE(t.ack ?? 777, 8);
  tcp[12] = ((20 + options.length) / 4) << 4;
  tcp[13] = t.flags ?? ACK;
  tcp.writeUInt16BE(t.window ?? 500, 14);
  options.copy(tcp, 20);
  data.copy(tcp, 20 + options.length);
  const ip = ipHeader(t.v6 ?? false, 6, tcp.length, t.id ?? 100);
  const partial = pseudoSum(ip, 6, tcp.length);
  tcp.writeUInt16BE(t.partial ? partial : checksum(tcp, 0, tcp.length, partial), 16);
  return Buffer.concat([ip, tcp]);
}

function udpPacket(data: Buffer, opts: { v6?: boolean; partial?: boolean } = {}): Buffer {
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(5353, 0);
  udp.writeUInt16BE(9999, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  const ip = ipHeader(opts.v6 ?? false, 17, udp.length, 7);
  const partial = pseudoSum(ip, 17, udp.length);
  udp.writeUInt16BE(opts.partial ? partial : checksum(udp, 0, udp.length, partial) || 0xffff, 6);
  return Buffer.concat([ip, udp]);
}

/** Whether an IPv4/IPv6 packet's lengths and checksums (IP header, TCP/UDP) are all correct. */
function assertValidPacket(p: Buffer, what: string): void {
  const v6 = p[0]! >> 4 === 6;
  const ipLen = v6 ? 40 : (p[0]! & 15) * 4;
  if (v6) assert.equal(p.readUInt16BE(4) + 40, p.length, `${what}: IPv6 payload length`);
  else {
    assert.equal(p.readUInt16BE(2), p.length, `${what}: IPv4 total length`);
    assert.equal(checksum(p, 0, ipLen), 0, `${what}: IPv4 header checksum`);
  }
  const protocol = v6 ? p[6]! : p[9]!;
  const l4 = p.subarray(ipLen);
  if (protocol === 17) assert.equal(l4.readUInt16BE(4), l4.length, `${what}: UDP length`);
  assert.equal(checksum(l4, 0, l4.length, pseudoSum(p, protocol, l4.length)), 0, `${what}: ${protocol === 6 ? 'TCP' : 'UDP'} checksum`);
}

function tcpFields(p: Buffer): { ipLen: number; hdrs: number; seq: number; flags: number; id: number; payload: Buffer } {
  const ipLen = p[0]! >> 4 === 6 ? 40 : (p[0]! & 15) * 4;
  const hdrs = ipLen + (p[ipLen + 12]! >> 4) * 4;
  return { ipLen, hdrs, seq: p.readUInt32BE(ipLen + 4), flags: p[ipLen + 13]!, id: p[0]! >> 4 === 4 ? p.readUInt16BE(4) : 0, payload: p.subarray(hdrs) };
}

const TIMESTAMPS = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);

/** A TSO super-packet as the kernel hands it over: partial checksum, gso_size = MSS. */
function tsoFrame(data: Buffer, mss: number, t: Tcp = {}): Buffer {
  const packet = tcpPacket(data, { options: TIMESTAMPS, partial: true, ...t });
  const ipLen = t.v6 ? 40 : 20;
  return frame({ flags: NEEDS_CSUM, gsoType: t.v6 ? GSO_TCPV6 : GSO_TCPV4, hdrLen: ipLen + 32, gsoSize: mss, csumStart: ipLen, csumOffset: 16 }, packet);
}

test('a TCPv4 TSO super-packet splits into valid MTU-sized segments (seq, IP id, flags, checksums)', () => {
  const data = randomBytes(20_000);
  const mss = 1248; // 1300 - 20 - 32
  const segments = segmentTunFrame(tsoFrame(data, mss, { seq: 0xfffff000, flags: ACK | PSH | FIN | CWR, id: 0xfffe }));
  assert.ok(segments);
  assert.equal(segments.length, Math.ceil(data.length / mss));
  segments.forEach((s, i) => {
    assert.ok(s.length <= 1300, `segment ${i} is ${s.length} bytes`);
    assertValidPacket(s, `segment ${i}`);
    const f = tcpFields(s);
    assert.equal(f.seq, (0xfffff000 + i * mss) >>> 0, 'sequence number wraps like TCP');
    assert.equal(f.id, (0xfffe + i) & 0xffff, 'IP id counts up from the first');
    const last = i === segments.length - 1;
    assert.equal(f.flags, ACK | (last ? PSH | FIN : 0) | (i === 0 ? CWR : 0), `flags of segment ${i}`);
  });
  assert.deepEqual(Buffer.concat(segments.map((s) => tcpFields(s).payload)), data);
});

test('segments follow gso_size, the MSS the kernel took from the route MTU (tun.routes may exceed tun.mtu)', () => {
  const data = randomBytes(20_000);
  const segments = segmentTunFrame(tsoFrame(data, 8748));
  assert.ok(segments);
  assert.deepEqual(segments.map((s) => s.length), [8800, 8800, 20_000 - 2 * 8748 + 52]);
  for (const s of segments) assertValidPacket(s, 'segment');
  assert.deepEqual(Buffer.concat(segments.map((s) => tcpFields(s).payload)), data);
});

test('a TCPv6 TSO super-packet splits with payload lengths and checksums right', () => {
  const data = randomBytes(5000);
  const segments = segmentTunFrame(tsoFrame(data, 1228, { v6: true }));
  assert.ok(segments);
  assert.equal(segments.length, 5);
  for (const s of segments) assertValidPacket(s, 'IPv6 segment');
  assert.deepEqual(Buffer.concat(segments.map((s) => tcpFields(s).payload)), data);
});

test('a USO super-packet splits into datagrams of gso_size with UDP lengths and checksums', () => {
  const data = randomBytes(5000);
  const packet = udpPacket(data, { partial: true });
  const segments = segmentTunFrame(frame({ flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, hdrLen: 28, gsoSize: 1200, csumStart: 20, csumOffset: 6 }, packet));
  assert.ok(segments);
  assert.deepEqual(segments.map((s) => s.length), [1228, 1228, 1228, 1228, 228]);
  for (const s of segments) assertValidPacket(s, 'datagram');
  assert.deepEqual(Buffer.concat(segments.map((s) => s.subarray(28))), data);
  // Datagrams stay as the application sized them (UDP_SEGMENT), whatever the device MTU.
  assert.deepEqual(segmentTunFrame(frame({ flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, gsoSize: 2500 }, packet))?.map((s) => s.length), [2528, 2528]);
});

test('a plain packet passes unchanged; a partial checksum (NEEDS_CSUM) is completed', () => {
  const plain = udpPacket(Buffer.from('hello'));
  assert.deepEqual(segmentTunFrame(frame({}, plain)), [plain]);
  const partialUdp = udpPacket(Buffer.from('hello'), { partial: true });
  assert.deepEqual(segmentTunFrame(frame({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 6 }, partialUdp)), [plain]);
  const tcp = tcpPacket(Buffer.from('data'), { flags: ACK | PSH });
  const partialTcp = tcpPacket(Buffer.from('data'), { flags: ACK | PSH, partial: true });
  assert.deepEqual(segmentTunFrame(frame({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 16 }, partialTcp)), [tcp]);
});

test('completed checksums are right for every payload length (each word-size tail, odd lengths, high-carry bytes)', () => {
  for (let n = 0; n <= 80; n++) {
    for (const data of [randomBytes(n), Buffer.alloc(n, 0xff)]) {
      const partial = udpPacket(data, { partial: true });
      assert.deepEqual(segmentTunFrame(frame({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 6 }, partial)), [udpPacket(data)], `UDP, ${n} bytes`);
    }
  }
  for (const n of [1199, 1200, 1201, 1207, 1215, 1272]) {
    const data = randomBytes(n);
    const partial = tcpPacket(data, { flags: ACK | PSH, partial: true });
    assert.deepEqual(segmentTunFrame(frame({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 16 }, partial)), [tcpPacket(data, { flags: ACK | PSH })], `TCP, ${n} bytes`);
  }
});

test('malformed virtio_net_hdr frames and super-packets with bad lengths are dropped, not split', () => {
  const good = tsoFrame(randomBytes(4000), 1248);
  const v = readVnet(good);
  const packet = good.subarray(10);
  const withIp = (edit: (p: Buffer) => void): Buffer => {
    const p = Buffer.from(packet);
    edit(p);
    return frame(v, p);
  };
  const cases: Record<string, Buffer> = {
    'empty frame': Buffer.alloc(0),
    'shorter than the virtio_net_hdr': Buffer.alloc(9),
    'header only': frame(v, Buffer.alloc(0)),
    'gso_size 0': frame({ ...v, gsoSize: 0 }, packet),
    'unknown gso_type': frame({ ...v, gsoType: 3 }, packet),
    'gso_type 0x7f': frame({ ...v, gsoType: 0x7f }, packet),
    'TCPV6 on an IPv4 packet': frame({ ...v, gsoType: GSO_TCPV6 }, packet),
    'UDP_L4 on a TCP packet': frame({ ...v, gsoType: GSO_UDP_L4 }, packet),
    'IPv4 total length beyond the frame': withIp((p) => p.writeUInt16BE(p.length + 1, 2)),
    'IPv4 total length short of the frame': withIp((p) => p.writeUInt16BE(p.length - 100, 2)),
    'IPv4 total length 0': withIp((p) => p.writeUInt16BE(0, 2)),
    'IHL below 5': withIp((p) => (p[0] = 0x44)),
    'IHL 15 with the TCP header past the end': frame(v, (() => {
      const p = tcpPacket(Buffer.alloc(4));
      p[0] = 0x4f;
      return p;
    })()),
    'TCP data offset below 5': withIp((p) => (p[32] = 0x40)),
    'TCP data offset past the end': frame(v, (() => {
      const p = tcpPacket(Buffer.alloc(4));
      p[32] = 0xf0;
      return p;
    })()),
    'a fragment': withIp((p) => p.writeUInt16BE(0x2000, 6)),
    'IP version 5': withIp((p) => (p[0] = 0x55)),
    'not TCP': withIp((p) => (p[9] = 17)),
    'truncated IPv4 header': frame(v, packet.subarray(0, 19)),
    'csum_start past the end (no GSO)': frame({ flags: NEEDS_CSUM, csumStart: packet.length, csumOffset: 0 }, packet),
    'checksum field past the end (no GSO)': frame({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 0xffff }, packet),
    'checksum field straddling the end (no GSO)': frame({ flags: NEEDS_CSUM, csumStart: packet.length - 1, csumOffset: 0 }, packet),
  };
  for (const [name, f] of Object.entries(cases)) {
    assert.equal(segmentTunFrame(f), null, name);
  }
  const v6 = tsoFrame(randomBytes(3000), 1228, { v6: true });
  const badV6 = Buffer.from(v6);
  badV6.writeUInt16BE(40000, 14); // payload length
  assert.equal(segmentTunFrame(badV6), null, 'IPv6 payload length beyond the frame');
  const extension = Buffer.from(v6);
  extension[16] = 0; // hop-by-hop options header instead of TCP
  assert.equal(segmentTunFrame(extension), null, 'IPv6 extension header');
});

test('a super-packet whose segments would not fit the output room is dropped whole', () => {
  const tiny = tsoFrame(randomBytes(60_000), 1);
  assert.equal(segmentTunFrame(tiny), null, '60000 one-byte segments need 3 MB of headers');
  const f = tsoFrame(randomBytes(10_000), 1248);
  assert.equal(segmentTunFrame(f, 10_000), null, 'room for the payload but not the repeated headers');
  assert.equal(segmentTunFrame(frame({}, randomBytes(2000)), 1000), null, 'plain packet larger than the room');
  assert.ok(segmentTunFrame(f, 10_000 + 9 * 52));
});

test('random corruption of frames never crashes, and what comes out fits the room', () => {
  const seeds = [tsoFrame(randomBytes(30_000), 1248), tsoFrame(randomBytes(3000), 1228, { v6: true }),
    frame({ flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, gsoSize: 1000 }, udpPacket(randomBytes(4000), { partial: true })),
    frame({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 16 }, tcpPacket(Buffer.from('x'), { partial: true }))];
  const room = 131072;
  for (let i = 0; i < 5000; i++) {
    const f = Buffer.from(seeds[i % seeds.length]!);
    const flips = 1 + (i % 6);
    // Mostly in the headers, where lengths live.
    for (let k = 0; k < flips; k++) f[Math.floor(Math.random() * Math.min(f.length, i % 2 ? 80 : f.length))] = Math.floor(Math.random() * 256);
    const cut = i % 3 === 0 ? f.subarray(0, Math.floor(Math.random() * f.length)) : f;
    // Half the time the IP length field is made to agree with the frame, so that the damage
    // reaches the parsing behind that check (header lengths, gso_size, the output room).
    if ((i >> 1) % 2 === 0 && cut.length >= 30) {
      if (cut[10]! >> 4 === 4) cut.writeUInt16BE(cut.length - 10, 12);
      else if (cut[10]! >> 4 === 6 && cut.length >= 50) cut.writeUInt16BE(cut.length - 50, 14);
    }
    const out = segmentTunFrame(cut, room);
    if (out) assert.ok(out.reduce((n, s) => n + s.length, 0) <= room);
  }
  for (let i = 0; i < 2000; i++) segmentTunFrame(randomBytes(i % 200));
});

/** The segments of a flow as the peer's segmenter would send them. */
function flow(bytes: number, t: Tcp = {}): Buffer[] {
  const segments = segmentTunFrame(tsoFrame(randomBytes(bytes), 1248, t));
  assert.ok(segments);
  return segments;
}

test('consecutive segments of one flow coalesce into one GSO write that splits back to the same segments', () => {
  const segments = flow(40_000, { flags: ACK | PSH });
  const writes = coalesceTunPackets(segments);
  assert.equal(writes.length, 1);
  const w = writes[0]!;
  assert.deepEqual(readVnet(w), { flags: NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 52, gsoSize: 1248, csumStart: 20, csumOffset: 16 });
  const superPacket = w.subarray(10);
  assert.equal(superPacket.readUInt16BE(2), superPacket.length);
  assert.equal(checksum(superPacket, 0, 20), 0, 'IPv4 header checksum of the super-packet');
  assert.equal(superPacket.readUInt16BE(36), pseudoSum(superPacket, 6, superPacket.length - 20), 'TCP checksum holds the pseudo-header sum');
  assert.equal(tcpFields(superPacket).flags, ACK | PSH, 'PSH of the last segment');
  assert.deepEqual(segmentTunFrame(w), segments, 'the kernel view: splitting it again gives the segments back');
});

test('runs break where the kernel could not treat segments as one', () => {
  // IP ids count up within a flow as the kernel's segmentation makes them (ids are not kept).
  const a = flow(6000); // 5 segments
  const plain = (p: Buffer): Buffer => Buffer.concat([Buffer.alloc(10), p]);
  const groups = (packets: Buffer[]): number[] => {
    const writes = coalesceTunPackets(packets);
    // Every byte arrives, in order: the writes concatenated split back into the input.
    const back = writes.flatMap((w) => segmentTunFrame(w) ?? []);
    assert.deepEqual(back, packets);
    return writes.map((w) => (readVnet(w).gsoType === GSO_TCPV4 ? segmentTunFrame(w)!.length : 1));
  };
  assert.deepEqual(groups(a), [5]);
  const other = flow(3000, { srcPort: 40001 });
  assert.deepEqual(groups([a[0]!, a[1]!, other[0]!, a[2]!, a[3]!, a[4]!]), [2, 1, 3], 'another flow between');
  assert.deepEqual(groups([a[0]!, a[1]!, a[3]!, a[4]!]), [2, 2], 'a gap in sequence numbers');
  assert.deepEqual(groups([a[1]!, a[0]!]), [1, 1], 'out of order');
  const corrupt = Buffer.from(a[2]!);
  corrupt[corrupt.length - 1]! ^= 1;
  const writes = coalesceTunPackets([a[0]!, a[1]!, corrupt, a[3]!]);
  assert.deepEqual(writes.map((w) => w.length - 10), [a[0]!.length + a[1]!.length - 52, corrupt.length, a[3]!.length]);
  assert.deepEqual(writes[1], plain(corrupt), 'a segment with a bad checksum reaches the kernel alone, unchanged');
  const short = flow(1000, { seq: 1000 + 2 * 1248, id: 102 })[0]!;
  const afterShort = flow(1248, { seq: 1000 + 2 * 1248 + 1000, id: 103 })[0]!;
  assert.deepEqual(groups([a[0]!, a[1]!, short, afterShort]), [3, 1], 'only the last segment may be shorter');
  const pushed = flow(2496, { flags: ACK | PSH });
  const next = flow(1248, { seq: 1000 + 2496, id: 102 })[0]!;
  assert.deepEqual(groups([...pushed, next]), [2, 1], 'PSH ends a run');
  const otherOptions = flow(1248, { seq: 1000 + 1248, options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2]) })[0]!;
  assert.deepEqual(groups([a[0]!, otherOptions]), [1, 1], 'changed TCP options');
  const otherAck = flow(1248, { seq: 1000 + 1248, ack: 778 })[0]!;
  assert.deepEqual(groups([a[0]!, otherAck]), [1, 1], 'changed ACK number');
  const next1 = (t: Tcp): Buffer => flow(1248, { seq: 1000 + 1248, id: 101, ...t })[0]!;
  assert.deepEqual(groups([a[0]!, next1({})]), [2], 'the next segment joins');
  // A compensating change elsewhere keeps the checksum valid: found by the hostile-packet test below.
  assert.deepEqual(groups([a[0]!, next1({ window: 900 })]), [1, 1], 'changed window (a super-packet carries only its first one\'s, as for GRO)');
  assert.deepEqual(groups([a[0]!, next1({ id: 150 })]), [1, 1], 'an IP id GRO would not take there');
  // With DF, GRO also takes segments that all carry the first one's id (a split numbers them anew).
  assert.equal(coalesceTunPackets([a[0]!, next1({ id: 100 })]).length, 1, 'DF and a fixed IP id');
  for (const flags of [SYN | ACK, FIN | ACK, 0x04, ACK | CWR, ACK | 0x20]) {
    const odd = tcpPacket(randomBytes(1248), { seq: 1000 + 1248, flags, options: TIMESTAMPS });
    assert.deepEqual(groups([a[0]!, odd]), [1, 1], `flags ${flags.toString(16)}`);
  }
  const pureAcks = [tcpPacket(Buffer.alloc(0)), tcpPacket(Buffer.alloc(0))];
  assert.deepEqual(groups(pureAcks), [1, 1], 'segments without data');
  const long = [0, 1, 2].flatMap((k) => flow(60_000, { seq: 1000 + k * 60_000, id: 100 + k * 49 }));
  const sizes = groups(long);
  assert.ok(sizes.every((n) => n * 1248 + 52 <= 65535), `no super-packet above 64 KiB: ${sizes}`);
  assert.equal(sizes.reduce((x, y) => x + y, 0), long.length);
});

test('hostile packets handed to the coalescer pass through byte for byte', () => {
  const base = flow(5000);
  for (let i = 0; i < 3000; i++) {
    const packets = base.map((p) => Buffer.from(p));
    const victim = packets[i % packets.length]!;
    for (let k = 0; k < 1 + (i % 4); k++) victim[Math.floor(Math.random() * 60)] = Math.floor(Math.random() * 256);
    if (i % 5 === 0) packets[i % packets.length] = victim.subarray(0, Math.floor(Math.random() * victim.length));
    assertWritesSplitBackInto(coalesceTunPackets(packets), packets);
  }
  assert.deepEqual(coalesceTunPackets([Buffer.alloc(0), Buffer.alloc(3)]), [Buffer.alloc(10), Buffer.alloc(13)]);
  assert.throws(() => coalesceTunPackets([{} as Uint8Array]), /Uint8Array/);
});

/** The datagrams of one UDP flow as the sender's USO would cut them (consecutive IP ids, valid checksums). */
function udpFlow(bytes: number, size: number, srcPort = 5353): Buffer[] {
  const superPacket = udpPacket(randomBytes(bytes), { partial: true });
  superPacket.writeUInt16BE(srcPort, 20);
  superPacket.writeUInt16BE(pseudoSum(superPacket, 17, superPacket.length - 20), 26);
  const datagrams = segmentTunFrame(frame({ flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, gsoSize: size }, superPacket));
  assert.ok(datagrams);
  return datagrams;
}

function withIpId(p: Buffer, id: number): Buffer {
  const q = Buffer.from(p);
  q.writeUInt16BE(id & 0xffff, 4);
  q.writeUInt16BE(0, 10);
  q.writeUInt16BE(checksum(q, 0, 20), 10);
  return q;
}

/** How many input packets each write carries; checks that every write splits back into its inputs. */
function udpGroups(packets: Buffer[]): number[] {
  const writes = coalesceTunPackets(packets, true);
  assert.deepEqual(writes.flatMap((w) => segmentTunFrame(w) ?? []), packets);
  return writes.map((w) => (readVnet(w).gsoType === GSO_UDP_L4 ? segmentTunFrame(w)!.length : 1));
}

test('with USO, consecutive datagrams of one UDP flow coalesce into one write that splits back to the same datagrams', () => {
  const datagrams = udpFlow(5 * 1200 + 700, 1200);
  assert.equal(datagrams.length, 6);
  const writes = coalesceTunPackets(datagrams, true);
  assert.equal(writes.length, 1);
  const w = writes[0]!;
  assert.deepEqual(readVnet(w), { flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, hdrLen: 28, gsoSize: 1200, csumStart: 20, csumOffset: 6 });
  const superPacket = w.subarray(10);
  assert.equal(superPacket.length, 28 + 5 * 1200 + 700);
  assert.equal(superPacket.readUInt16BE(2), superPacket.length);
  assert.equal(checksum(superPacket, 0, 20), 0, 'IPv4 header checksum of the super-packet');
  assert.equal(superPacket.readUInt16BE(24), superPacket.length - 20, 'UDP length of the super-packet');
  assert.equal(superPacket.readUInt16BE(26), pseudoSum(superPacket, 17, superPacket.length - 20), 'UDP checksum holds the pseudo-header sum');
  assert.deepEqual(segmentTunFrame(w), datagrams, 'the kernel view: splitting it again gives the datagrams back');
  // A device without USO gets them one by one, unchanged.
  assert.deepEqual(coalesceTunPackets(datagrams), datagrams.map((d) => Buffer.concat([Buffer.alloc(10), d])));
  assert.deepEqual(coalesceTunPackets(datagrams, false).length, datagrams.length);
});

test('UDP runs break where the kernel could not treat datagrams as one', () => {
  const a = udpFlow(5 * 1200, 1200);
  const other = udpFlow(2 * 1200, 1200, 6000);
  assert.deepEqual(udpGroups(a), [5]);
  assert.deepEqual(udpGroups([a[0]!, a[1]!, other[0]!, a[2]!, a[3]!, a[4]!]), [2, 1, 3], 'another flow between');
  // The kernel numbers the datagrams of a super-packet from the first one's IP id (ids are not kept).
  const short = withIpId(udpFlow(800, 800)[0]!, a[0]!.readUInt16BE(4) + 2);
  assert.deepEqual(udpGroups([a[0]!, a[1]!, short, a[2]!]), [3, 1], 'only the last datagram may be shorter');
  assert.deepEqual(udpGroups([a[0]!, withIpId(a[1]!, a[0]!.readUInt16BE(4) + 5)]), [1, 1], 'an IP id GRO would not take there');
  const [long] = udpFlow(1300, 1300);
  assert.deepEqual(udpGroups([a[0]!, long!]), [1, 1], 'a longer datagram');
  const noChecksum = Buffer.from(a[1]!);
  noChecksum.writeUInt16BE(0, 26);
  assert.deepEqual(udpGroups([a[0]!, noChecksum, a[2]!]), [1, 1, 1], 'a datagram sent without checksum');
  const corrupt = Buffer.from(a[1]!);
  corrupt[corrupt.length - 1]! ^= 1;
  const writes = coalesceTunPackets([a[0]!, corrupt, a[2]!, a[3]!], true);
  assert.deepEqual(writes[1], Buffer.concat([Buffer.alloc(10), corrupt]), 'a datagram with a bad checksum reaches the kernel alone, unchanged');
  assert.equal(writes.length, 3);
  const fragment = Buffer.from(a[1]!);
  fragment.writeUInt16BE(0x2000, 6); // MF
  fragment.writeUInt16BE(0, 10);
  fragment.writeUInt16BE(checksum(fragment, 0, 20), 10);
  assert.deepEqual(udpGroups([a[0]!, fragment]), [1, 1], 'an IP fragment');
  const tcp = flow(3 * 1248);
  // (The three TCP segments go as one TSO write, counted 1 here.)
  assert.deepEqual(udpGroups([a[0]!, a[1]!, ...tcp, a[2]!, a[3]!]), [2, 1, 2], 'TCP between');
  const many = [0, 1, 2].flatMap((k) => udpFlow(50 * 1200, 1200).map((d, j) => withIpId(d, 7 + 50 * k + j)));
  const sizes = udpGroups(many);
  assert.ok(sizes.every((n) => n <= 64 && 28 + n * 1200 <= 65535), `no super-packet above 64 KiB or 64 datagrams: ${sizes}`);
  assert.equal(sizes.reduce((x, y) => x + y, 0), many.length);
});

test('hostile UDP datagrams handed to the coalescer pass through byte for byte', () => {
  const base = [...udpFlow(4 * 1000 + 10, 1000), ...flow(3000)];
  for (let i = 0; i < 3000; i++) {
    const packets = base.map((p) => Buffer.from(p));
    const victim = packets[i % packets.length]!;
    for (let k = 0; k < 1 + (i % 4); k++) victim[Math.floor(Math.random() * 40)] = Math.floor(Math.random() * 256);
    if (i % 5 === 0) packets[i % packets.length] = victim.subarray(0, Math.floor(Math.random() * victim.length));
    assertWritesSplitBackInto(coalesceTunPackets(packets, true), packets);
  }
});
