/** Tiny IPv4/IPv6/ICMP/UDP/TCP packet builders and parsers for tests. */
import { internetChecksum } from '../../src/net/checksum.js';
import { parseIp6 } from '../../src/net/ip.js';
import { formatIp, parseIp } from '../../src/net/ipv4.js';

export function checksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return internetChecksum(buf, start, end, initial);
}

function ipv4(src: string, dst: string, protocol: number, payload: Buffer, ttl = 64): Buffer {
  const p = Buffer.alloc(20 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(0x4000, 6); // DF
  p[8] = ttl;
  p[9] = protocol;
  p.writeUInt32BE(parseIp(src), 12);
  p.writeUInt32BE(parseIp(dst), 16);
  p.writeUInt16BE(checksum(p, 0, 20), 10);
  payload.copy(p, 20);
  return p;
}

/** ICMP echo request (type 8) or reply (type 0). */
export function icmpEcho(src: string, dst: string, type: 0 | 8, id: number, seq: number, data: Buffer = Buffer.from('mesh-test')): Buffer {
  const icmp = Buffer.alloc(8 + data.length);
  icmp[0] = type;
  icmp.writeUInt16BE(id, 4);
  icmp.writeUInt16BE(seq, 6);
  data.copy(icmp, 8);
  icmp.writeUInt16BE(checksum(icmp), 2);
  return ipv4(src, dst, 1, icmp);
}

export function udpPacket(src: string, srcPort: number, dst: string, dstPort: number, data: Buffer): Buffer {
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(parseIp(src), 0);
  pseudo.writeUInt32BE(parseIp(dst), 4);
  pseudo[9] = 17;
  pseudo.writeUInt16BE(udp.length, 10);
  const partial = ~checksum(pseudo) & 0xffff;
  udp.writeUInt16BE(checksum(udp, 0, udp.length, partial) || 0xffff, 6);
  return ipv4(src, dst, 17, udp);
}

/** An IPv6 packet: fixed header (hop limit 64, `next` header) and `body`. */
export function ipv6Packet(src: string, dst: string, next: number, body: Buffer): Buffer {
  const p = Buffer.alloc(40 + body.length);
  p[0] = 0x60;
  p.writeUInt16BE(body.length, 4);
  p[6] = next;
  p[7] = 64;
  p.set(parseIp6(src), 8);
  p.set(parseIp6(dst), 24);
  body.copy(p, 40);
  return p;
}

/** A bare TCP SYN header (no options, checksum 0). */
function synHeader(srcPort: number, dstPort: number): Buffer {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(srcPort, 0);
  tcp.writeUInt16BE(dstPort, 2);
  tcp[12] = 5 << 4;
  tcp[13] = 0x02;
  return tcp;
}

/** A bare TCP SYN (no options); enough for firewall and routing tests. */
export function tcpSyn(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  return ipv4(src, dst, 6, synHeader(srcPort, dstPort));
}

/** The same over IPv6. */
export function tcpSyn6(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  return ipv6Packet(src, dst, 6, synHeader(srcPort, dstPort));
}

/** A TCP segment (no options) with valid checksums. */
export function tcpSegment(src: string, srcPort: number, dst: string, dstPort: number, o: { seq: number; ack: number; flags: number; data: Buffer }): Buffer {
  const tcp = Buffer.alloc(20 + o.data.length);
  tcp.writeUInt16BE(srcPort, 0);
  tcp.writeUInt16BE(dstPort, 2);
  tcp.writeUInt32BE(o.seq >>> 0, 4);
  tcp.writeUInt32BE(o.ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = o.flags;
  tcp.writeUInt16BE(65535, 14);
  o.data.copy(tcp, 20);
  tcp.writeUInt16BE(checksum(tcp, 0, tcp.length, ~checksum(pseudoHeader(src, dst, 6, tcp.length)) & 0xffff), 16);
  return ipv4(src, dst, 6, tcp);
}

/** Whether the TCP or UDP checksum of an IPv4 packet (no IP options) is right. */
export function transportChecksumOk(packet: Buffer): boolean {
  const l4 = packet.subarray(20, packet.readUInt16BE(2));
  const pseudo = pseudoHeader(formatIp(packet.readUInt32BE(12)), formatIp(packet.readUInt32BE(16)), packet[9]!, l4.length);
  return checksum(l4, 0, l4.length, ~checksum(pseudo) & 0xffff) === 0;
}

function pseudoHeader(src: string, dst: string, protocol: number, length: number): Buffer {
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(parseIp(src), 0);
  pseudo.writeUInt32BE(parseIp(dst), 4);
  pseudo[9] = protocol;
  pseudo.writeUInt16BE(length, 10);
  return pseudo;
}

export interface ParsedIpv4 {
  version: number;
  protocol: number;
  src: string;
  dst: string;
  payload: Buffer;
  /** ICMP type/id/seq or UDP ports, when applicable. */
  icmp?: { type: number; id: number; seq: number; data: Buffer };
  udp?: { srcPort: number; dstPort: number; data: Buffer };
}

export function parseIpv4(packet: Buffer): ParsedIpv4 {
  const version = packet[0]! >> 4;
  if (version !== 4) return { version, protocol: -1, src: '', dst: '', payload: packet };
  const ihl = (packet[0]! & 15) * 4;
  const total = packet.readUInt16BE(2);
  const payload = packet.subarray(ihl, total);
  const out: ParsedIpv4 = { version, protocol: packet[9]!, src: formatIp(packet.readUInt32BE(12)), dst: formatIp(packet.readUInt32BE(16)), payload };
  if (out.protocol === 1 && payload.length >= 8) {
    out.icmp = { type: payload[0]!, id: payload.readUInt16BE(4), seq: payload.readUInt16BE(6), data: payload.subarray(8) };
  } else if (out.protocol === 17 && payload.length >= 8) {
    out.udp = { srcPort: payload.readUInt16BE(0), dstPort: payload.readUInt16BE(2), data: payload.subarray(8, payload.readUInt16BE(4)) };
  }
  return out;
}
