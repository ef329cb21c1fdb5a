/**
 * IPv6 parsing for the firewall: the extension-header walk of Nebula 1.11.1, failing closed on
 * anything it cannot parse, against packets built here byte by byte (hostile ones included).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseIp6 } from '../../../src/net/ip.js';
import { parseIpPacket, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../../../src/protocol/ip-packet.js';

const SRC = 'fd00::2';
const DST = 'fd00::1';
const big = (text: string): bigint => parseIp6(text).reduce((v, b) => (v << 8n) | BigInt(b), 0n);

/** An extension header: its next-header byte, and its body after the two first bytes. */
interface Ext {
  type: number;
  bytes: number[];
}

/** Hop-by-hop / routing / destination options style: length in 8-byte units beyond the first 8. */
const tlv = (type: number, units = 0): Ext => ({ type, bytes: [units, ...new Array<number>(6 + units * 8).fill(1)] });
/** AH: length in 4-byte units, minus 2. */
const auth = (words = 4): Ext => ({ type: 51, bytes: [words - 2, ...new Array<number>(words * 4 - 2).fill(0)] });
/** Fragment header: offset in 8-byte units, M flag. */
const frag = (offset: number, more = false): Ext => ({ type: 44, bytes: [0, (offset >> 5) & 0xff, ((offset << 3) & 0xf8) | (more ? 1 : 0), 0, 0, 0, 1] });

/** An IPv6 packet with the extension chain `exts`, then `proto` and `payload`. */
function packet6(exts: Ext[], proto: number, payload: number[], src = SRC, dst = DST): Uint8Array {
  const chain: number[] = [];
  exts.forEach((e, i) => chain.push(i + 1 < exts.length ? exts[i + 1]!.type : proto, ...e.bytes));
  const body = [...chain, ...payload];
  const out = new Uint8Array(40 + body.length);
  out[0] = 0x60;
  out[4] = body.length >> 8;
  out[5] = body.length & 0xff;
  out[6] = exts.length > 0 ? exts[0]!.type : proto;
  out[7] = 64;
  out.set(parseIp6(src), 8);
  out.set(parseIp6(dst), 24);
  out.set(body, 40);
  return out;
}

const PORTS = [0x9c, 0x40, 0x00, 0x50]; // 40000 -> 80

describe('IPv6 packets for the firewall', () => {
  it('reads addresses and ports of TCP and UDP, oriented to our side', () => {
    const p = parseIpPacket(packet6([], PROTO_TCP, PORTS), true)!;
    assert.deepEqual(p, { protocol: PROTO_TCP, fragment: false, remoteIp: big(SRC), localIp: big(DST), remotePort: 40000, localPort: 80 });
    const out = parseIpPacket(packet6([], PROTO_UDP, PORTS), false)!;
    assert.deepEqual(out, { protocol: PROTO_UDP, fragment: false, localIp: big(SRC), remoteIp: big(DST), localPort: 40000, remotePort: 80 });
  });

  it('ICMPv6, ESP and "no next header" have no ports', () => {
    for (const proto of [PROTO_ICMPV6, 50, 59]) {
      const p = parseIpPacket(packet6([], proto, [128, 0]), true)!;
      assert.equal(p.protocol, proto);
      assert.equal(p.localPort, 0);
      assert.equal(p.remotePort, 0);
      assert.equal(p.fragment, false);
    }
  });

  it('walks hop-by-hop, routing, destination options and AH to the transport header', () => {
    const chain = [tlv(0), tlv(43, 1), auth(6), tlv(60, 2)];
    const p = parseIpPacket(packet6(chain, PROTO_TCP, PORTS), true)!;
    assert.equal(p.protocol, PROTO_TCP);
    assert.equal(p.localPort, 80);
    assert.equal(p.remotePort, 40000);
  });

  it('a first fragment continues to the transport header; a later one is a port-less fragment', () => {
    const first = parseIpPacket(packet6([frag(0, true)], PROTO_UDP, PORTS), true)!;
    assert.deepEqual([first.protocol, first.fragment, first.localPort], [PROTO_UDP, false, 80]);
    const later = parseIpPacket(packet6([tlv(0), frag(185)], PROTO_TCP, [1, 2, 3]), true)!;
    assert.deepEqual([later.protocol, later.fragment, later.localPort, later.remotePort], [PROTO_TCP, true, 0, 0]);
  });

  it('an upper-layer protocol it does not know ends the walk without ports (only proto any matches it)', () => {
    const sctp = parseIpPacket(packet6([], 132, PORTS), true)!;
    assert.deepEqual([sctp.protocol, sctp.localPort, sctp.remotePort, sctp.fragment], [132, 0, 0, false]);
    // Not skipped as if it were an extension header: the TCP ports behind it are not read.
    const hidden = parseIpPacket(packet6([{ type: 200, bytes: [0, 0, 0, 0, 0, 0, 0] }], PROTO_TCP, PORTS), true)!;
    assert.equal(hidden.protocol, 200);
    assert.equal(hidden.localPort, 0);
  });

  it('drops what it cannot parse: short fixed header, cut extension headers, cut ports', () => {
    const whole = packet6([tlv(0), tlv(60, 1)], PROTO_TCP, PORTS);
    assert.ok(parseIpPacket(whole, true));
    for (let len = 0; len < whole.length; len++) assert.equal(parseIpPacket(whole.subarray(0, len), true), null, `cut at ${len}`);
    assert.equal(parseIpPacket(packet6([], PROTO_UDP, [1, 2, 3]), true), null, 'three bytes of ports');
    assert.equal(parseIpPacket(packet6([tlv(0)], 44, [0, 0, 0]), true), null, 'fragment header cut short');
    assert.equal(parseIpPacket(packet6([], 51, [PROTO_TCP]), true), null, 'AH without its length byte');
    // A length byte pointing past the end.
    assert.equal(parseIpPacket(packet6([{ type: 0, bytes: [255, 0, 0, 0, 0, 0, 0] }], PROTO_TCP, PORTS), true), null);
  });

  it('a long chain of extension headers ends: every step moves forward', () => {
    const chain = Array.from({ length: 200 }, () => tlv(60));
    const p = parseIpPacket(packet6(chain, PROTO_UDP, PORTS), true)!;
    assert.equal(p.protocol, PROTO_UDP);
    assert.equal(p.localPort, 80);
    // A header naming itself as the next, again and again, runs into the end of the packet.
    const loop = packet6([tlv(0)], 0, new Array<number>(64).fill(0));
    assert.equal(parseIpPacket(loop, true), null);
  });

  it('never throws on random bytes behind a version 6 nibble', () => {
    for (let i = 0; i < 5000; i++) {
      const bytes = randomBytes(40 + (i % 90));
      bytes[0] = 0x60 | (bytes[0]! & 0x0f);
      const p = parseIpPacket(bytes, i % 2 === 0);
      if (p) assert.equal(typeof p.localIp, 'bigint');
    }
  });

  it('IPv4 keeps its number addresses; other versions are dropped', () => {
    const v4 = new Uint8Array(24);
    v4[0] = 0x45;
    v4[9] = PROTO_UDP;
    v4.set([10, 1, 0, 2, 10, 1, 0, 1, 0x9c, 0x40, 0, 53], 12);
    const p = parseIpPacket(v4, true)!;
    assert.equal(p.remoteIp, 0x0a010002);
    assert.equal(p.localPort, 53);
    assert.equal(parseIpPacket(new Uint8Array([0x50, ...new Array<number>(59).fill(0)]), true), null);
    assert.equal(parseIpPacket(new Uint8Array(0), true), null);
  });
});
