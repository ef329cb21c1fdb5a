/**
 * IP address text of both families. IPv4 as uint32 stays in ./ipv4.ts (the form Nebula's
 * certificates and messages carry); IPv6 text is checked by ipFamily and converted by
 * @leichtgewicht/ip-codec, and both families get one bigint form for prefix matching.
 */
import { v6 } from '@leichtgewicht/ip-codec';
import { parseCidr, parseIp, scanIp, type Cidr } from './ipv4.js';

/**
 * 4 for IPv4 dotted-quad text, 6 for IPv6 text (a zone such as "%eth0" allowed), 0 otherwise: what
 * node:net's isIP answers, without its regular expressions, which V8 compiles on a process's
 * first IPv6 check (4-6 ms, paid by a node's first lighthouse update before its first handshake).
 */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (scanIp(text) >= 0) return 4;
  return isIp6Text(text) ? 6 : 0;
}

/** IPv6 text: eight groups of 1-4 hex digits, or fewer around one "::", the last two optionally a dotted quad; then an optional zone. */
function isIp6Text(text: string): boolean {
  let end = text.indexOf('%');
  if (end < 0) end = text.length;
  else if (!isZone(text, end + 1)) return false;
  const gap = indexBefore(text, '::', 0, end);
  if (gap < 0) return groupCount(text, 0, end, true) === 8;
  if (indexBefore(text, '::', gap + 1, end) >= 0) return false;
  const head = gap === 0 ? 0 : groupCount(text, 0, gap, false);
  const tail = gap + 2 === end ? 0 : groupCount(text, gap + 2, end, true);
  return head >= 0 && tail >= 0 && head + tail <= 7;
}

/**
 * How many 16-bit groups text[from, to) holds as colon-separated hex groups (a dotted quad in
 * last place counts two, where `quadLast` allows it); -1 when it is not such a list.
 */
function groupCount(text: string, from: number, to: number, quadLast: boolean): number {
  let groups = 0;
  for (let start = from; ; ) {
    let i = start;
    while (i < to && isHex(text.charCodeAt(i))) i++;
    if (i < to && text.charCodeAt(i) === 46) return quadLast && scanIp(text, start, to) >= 0 ? groups + 2 : -1;
    if (i === start || i - start > 4 || (i < to && text.charCodeAt(i) !== 58)) return -1;
    groups++;
    if (i === to) return groups;
    start = i + 1;
  }
}

/** Where `needle` starts in text[from, end), or -1. */
function indexBefore(text: string, needle: string, from: number, end: number): number {
  const i = text.indexOf(needle, from);
  return i >= 0 && i + needle.length <= end ? i : -1;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** A non-empty zone of letters, digits, '-', '.' and ':' from `from` to the end. */
function isZone(text: string, from: number): boolean {
  if (from >= text.length) return false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46;
    if (!ok) return false;
  }
  return true;
}

/** An address of either family as a number: 32 bits for IPv4, 128 for IPv6. */
export interface IpNumber {
  family: 4 | 6;
  value: bigint;
}

/** A prefix of either family; `ip` is the network (host bits cleared). */
export interface IpPrefix {
  family: 4 | 6;
  ip: bigint;
  bits: number;
}

/** Parses IPv6 text ("::", a dotted-quad tail, optional [brackets]; no zone) into 16 bytes. */
export function parseIp6(text: string): Uint8Array {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  // ip-codec encodes whatever it is given, so ipFamily decides what is an address.
  if (ipFamily(s) !== 6 || s.includes('%')) throw new Error(`invalid IPv6 address "${text}"`);
  return v6.encode(s);
}

/**
 * RFC 5952 text for 16 address bytes: lowercase, the longest run of two or more zero groups as
 * "::"; an IPv4-mapped address as "::ffff:1.2.3.4" (RFC 5952 s5, and Go's netip, which Nebula prints with).
 */
export function formatIp6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error('IPv6 address must be 16 bytes');
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  // ip-codec shortens the first zero run, not the longest; the URL standard's IPv6 serializer is
  // RFC 5952's canonical form.
  return new URL(`http://[${v6.decode(bytes)}]/`).hostname.slice(1, -1);
}

/** IPv4 or IPv6 text (an IPv6 zone such as "%eth0" is dropped) as a number; null when it is neither. */
export function parseIpNumber(address: string | number): IpNumber | null {
  if (typeof address === 'number') return { family: 4, value: BigInt(address >>> 0) };
  if (address.includes(':')) {
    if (ipFamily(address) !== 6) return null;
    return { family: 6, value: bytesToBigInt(parseIp6(address.split('%')[0]!)) };
  }
  try {
    return { family: 4, value: BigInt(parseIp(address)) };
  } catch {
    return null;
  }
}

/** "address/bits" of either family (IPv6 zone dropped); null when the text is not such a prefix. */
export function parseIpPrefix(text: string): IpPrefix | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix)) return null;
  const bits = Number(prefix);
  if (address.includes(':')) {
    const ip = parseIpNumber(address);
    if (!ip || bits > 128) return null;
    return { family: 6, ip: ip.value & prefixMask(128, bits), bits };
  }
  try {
    const c = parseCidr(text);
    return { family: 4, ip: BigInt(c.ip) & prefixMask(32, c.bits), bits: c.bits };
  } catch {
    return null;
  }
}

function prefixMask(width: number, bits: number): bigint {
  const all = (1n << BigInt(width)) - 1n;
  return all ^ ((1n << BigInt(width - bits)) - 1n);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

/**
 * An address with its prefix length as a certificate carries it ("10.1.0.2/16", "fd00::2/64"):
 * the address as written (host bits kept), unlike IpPrefix. Nebula v2 certificates hold several
 * of these per host, of both families; a v1 certificate's `ips` are IPv4 ones.
 */
export interface IpNetwork {
  family: 4 | 6;
  /** The address as written: 32 bits for IPv4, 128 for IPv6. */
  addr: bigint;
  bits: number;
}

/** "address/bits" of either family, host bits kept; throws a message naming the text otherwise. */
export function parseIpNetwork(text: string): IpNetwork {
  const slash = text.indexOf('/');
  const address = slash < 0 ? '' : text.slice(0, slash);
  const ip = slash < 0 ? null : parseIpNumber(address.includes('%') ? '' : address);
  const prefix = text.slice(slash + 1);
  const bits = Number(prefix);
  if (!ip || !/^\d{1,3}$/.test(prefix) || bits > (ip.family === 4 ? 32 : 128)) {
    throw new Error(`invalid network "${text}": expected address/bits, such as 10.1.0.2/16 or fd00::2/64`);
  }
  return { family: ip.family, addr: ip.value, bits };
}

export function formatIpNumber(ip: IpNumber): string {
  if (ip.family === 4) {
    const v = Number(ip.value);
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const bytes = new Uint8Array(16);
  let v = ip.value;
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(v & 255n);
    v >>= 8n;
  }
  return formatIp6(bytes);
}

export function formatIpNetwork(n: IpNetwork): string {
  return `${formatIpNumber({ family: n.family, value: n.addr })}/${n.bits}`;
}

/** Whether `ip` lies in the network's prefix (same family, first `bits` bits equal). */
export function ipNetworkContains(n: IpNetwork, ip: IpNumber): boolean {
  if (n.family !== ip.family) return false;
  const mask = prefixMask(n.family === 4 ? 32 : 128, n.bits);
  return (n.addr & mask) === (ip.value & mask);
}

/**
 * An overlay (VPN) address as the data path keys hosts by it: IPv4 as a uint32 number (the v4 path
 * stays on plain numbers), IPv6 as a 128-bit bigint. A number and a bigint are never `===` nor the
 * same Map key, so addresses of both families share one Map without colliding.
 */
export type VpnAddr = number | bigint;

/** The address part of a certificate network, as the data path keys it. */
export function vpnAddrOf(n: IpNetwork): VpnAddr {
  return n.family === 4 ? Number(n.addr) : n.addr;
}

export function vpnAddrToIpNumber(a: VpnAddr): IpNumber {
  return typeof a === 'number' ? { family: 4, value: BigInt(a >>> 0) } : { family: 6, value: a };
}

export function formatVpnAddr(a: VpnAddr): string {
  return formatIpNumber(vpnAddrToIpNumber(a));
}

/** IPv4 or IPv6 text as a VpnAddr; throws naming the text otherwise. */
export function parseVpnAddr(text: string): VpnAddr {
  const ip = parseIpNumber(text.includes('%') ? '' : text.trim());
  if (!ip) throw new Error(`invalid IP address "${text}"`);
  return ip.family === 4 ? Number(ip.value) : ip.value;
}

/** The 16 address bytes at `offset` (an IPv6 header's source at 8, destination at 24). */
export function readIp6(data: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i += 4) {
    const w = ((data[offset + i]! << 24) | (data[offset + i + 1]! << 16) | (data[offset + i + 2]! << 8) | data[offset + i + 3]!) >>> 0;
    v = (v << 32n) | BigInt(w);
  }
  return v;
}

/** 16 bytes of an IPv6 address held as a bigint. */
export function ip6Bytes(a: bigint): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(a & 255n);
    a >>= 8n;
  }
  return out;
}

/** Whether `a` lies in the prefix `p` (same family, first `bits` bits equal). */
export function ipPrefixContains(p: IpPrefix, a: VpnAddr): boolean {
  if (typeof a === 'number') {
    if (p.family !== 4) return false;
    return (BigInt(a >>> 0) & prefixMask(32, p.bits)) === p.ip;
  }
  return p.family === 6 && (a & prefixMask(128, p.bits)) === p.ip;
}

export function formatIpPrefix(p: IpPrefix): string {
  return `${formatIpNumber({ family: p.family, value: p.ip })}/${p.bits}`;
}

/** A network's prefix (host bits cleared): "10.1.0.2/16" is 10.1.0.0/16. */
export function ipNetworkPrefix(n: IpNetwork): IpPrefix {
  return { family: n.family, ip: n.addr & prefixMask(n.family === 4 ? 32 : 128, n.bits), bits: n.bits };
}

/** Nebula's address order (netip.Addr.Compare): every IPv4 address before every IPv6 one. */
export function compareVpnAddr(a: VpnAddr, b: VpnAddr): number {
  if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A Cidr as an IpNetwork (IPv4, address kept as written). */
export function ipNetworkFromCidr(c: Cidr): IpNetwork {
  return { family: 4, addr: BigInt(c.ip >>> 0), bits: c.bits };
}

/** An IPv4 network as the uint32 Cidr of IPv4-only code (v1 certificates, the IPv4 data path); throws for IPv6. */
export function ipv4Cidr(n: IpNetwork): Cidr {
  if (n.family !== 4) throw new Error(`${formatIpNetwork(n)} is not an IPv4 network`);
  return { ip: Number(n.addr), bits: n.bits };
}

/** The IPv4 networks of the list as Cidrs; IPv6 ones are left out (IPv4-only code does not see them). */
export function ipv4Cidrs(list: readonly IpNetwork[]): Cidr[] {
  return list.filter((n) => n.family === 4).map(ipv4Cidr);
}
