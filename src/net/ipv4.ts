/**
 * IPv4 addresses as unsigned 32-bit numbers, the way Nebula's certificates and lighthouse messages
 * carry them, and CIDR prefixes built on them.
 */

export interface Cidr {
  /** The address as written (a host certificate keeps the host address, not the network). */
  readonly ip: number;
  /** Prefix length, 0..32. */
  readonly bits: number;
}

/** Parses dotted-quad IPv4 text into an unsigned 32-bit number; throws on anything else. */
export function parseIp(text: string): number {
  const ip = scanIp(text.trim());
  if (ip < 0) throw new Error(`invalid IPv4 address "${text}"`);
  return ip;
}

/**
 * text[from, to) as a dotted quad (four decimal octets 0-255, no leading zeros) in an unsigned
 * 32-bit number; -1 when it is not one. The one place that rule lives (ip.ts's ipFamily uses it).
 */
export function scanIp(text: string, from = 0, to = text.length): number {
  let value = 0;
  let i = from;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= to || text.charCodeAt(i) !== 46) return -1;
      i++;
    }
    const start = i;
    let n = 0;
    while (i < to && i - start < 3) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      i++;
    }
    if (i === start || n > 255 || (i - start > 1 && text.charCodeAt(start) === 48)) return -1;
    value = value * 256 + n;
  }
  return i === to ? value : -1;
}

export function formatIp(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

export function maskFromBits(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Prefix length of a contiguous netmask, or -1 when the mask has holes. */
export function bitsFromMask(mask: number): number {
  const bits = Math.clz32(~mask >>> 0);
  return maskFromBits(bits) === mask >>> 0 ? bits : -1;
}

/** Parses "a.b.c.d/n". The address is kept as written; use networkOf() for the network address. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Error(`invalid CIDR "${text}": expected address/prefix`);
  const ip = parseIp(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (!/^\d{1,2}$/.test(prefix) || Number(prefix) > 32) throw new Error(`invalid CIDR "${text}": prefix must be 0..32`);
  return { ip, bits: Number(prefix) };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.ip)}/${cidr.bits}`;
}

export function networkOf(cidr: Cidr): number {
  return (cidr.ip & maskFromBits(cidr.bits)) >>> 0;
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  const mask = maskFromBits(cidr.bits);
  return ((ip & mask) >>> 0) === ((cidr.ip & mask) >>> 0);
}

/** True when every address of `inner` lies inside `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.bits <= inner.bits && cidrContains(outer, inner.ip);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrCovers(a, b) || cidrCovers(b, a);
}
