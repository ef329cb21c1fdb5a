import { endpointKey, sameEndpoint, type Endpoint } from '../net/endpoint.js';
import { cidrContains, parseIp, type Cidr } from '../net/ipv4.js';
import type { VpnAddr } from '../net/ip.js';

const PRIVATE_V4: Cidr[] = [
  { ip: 0x0a000000, bits: 8 },
  { ip: 0xac100000, bits: 12 },
  { ip: 0xc0a80000, bits: 16 },
];

function isIpv4(address: string): boolean {
  return !address.includes(':');
}

/**
 * Every underlay address known for one overlay IP: static_host_map entries, the last answer of each
 * lighthouse, and the address the peer was last seen at. Handshakes go to all of them, in Nebula's
 * order: preferred ranges first, then IPv6, then public IPv4 before private, then by address and port.
 */
export class RemoteList {
  private staticAddrs: Endpoint[] = [];
  /** Made on first use (like `blocked`): a lighthouse keeps a list per host and fills neither. */
  private reported: Map<VpnAddr, Endpoint[]> | null = null;
  private learnedAddr: Endpoint | null = null;
  private blocked: Set<string> | null = null;
  /** Overlay IPs of relays that can reach this host, as the lighthouses report them. */
  relays: VpnAddr[] = [];
  private cache: Endpoint[] | null = null;

  constructor(private readonly preferredRanges: readonly Cidr[] = []) {}

  get hasStatic(): boolean {
    return this.staticAddrs.length > 0;
  }

  get staticAddresses(): readonly Endpoint[] {
    return this.staticAddrs;
  }

  setStatic(addrs: readonly Endpoint[]): void {
    this.staticAddrs = [...addrs];
    this.cache = null;
  }

  /** Replaces what one lighthouse reported (each answer replaces that lighthouse's previous one). */
  setReported(lighthouse: VpnAddr, addrs: readonly Endpoint[], relays?: readonly VpnAddr[]): void {
    (this.reported ??= new Map()).set(lighthouse, addrs.slice(0, 20));
    if (relays) this.relays = [...relays];
    this.cache = null;
  }

  learn(addr: Endpoint): void {
    if (sameEndpoint(this.learnedAddr, addr)) return;
    this.learnedAddr = { ...addr };
    this.cache = null;
  }

  get learned(): Endpoint | null {
    return this.learnedAddr;
  }

  block(addr: Endpoint): void {
    (this.blocked ??= new Set()).add(endpointKey(addr));
    this.cache = null;
  }

  unblockAll(): void {
    if (!this.blocked) return;
    this.blocked = null;
    this.cache = null;
  }

  /** Forgets everything but the static entries (a closed or dead tunnel). */
  resetDynamic(): void {
    this.reported = null;
    this.learnedAddr = null;
    this.relays = [];
    this.cache = null;
  }

  addresses(): readonly Endpoint[] {
    if (this.cache) return this.cache;
    const seen = new Map<string, Endpoint>();
    const add = (e: Endpoint) => {
      const key = endpointKey(e);
      if (!this.blocked?.has(key) && !seen.has(key)) seen.set(key, e);
    };
    this.staticAddrs.forEach(add);
    if (this.learnedAddr) add(this.learnedAddr);
    for (const list of this.reported?.values() ?? []) list.forEach(add);
    this.cache = [...seen.values()].sort((a, b) => this.rank(a) - this.rank(b) || compareEndpoints(a, b));
    return this.cache;
  }

  get size(): number {
    return this.addresses().length;
  }

  private rank(e: Endpoint): number {
    if (isIpv4(e.address)) {
      const ip = parseIp(e.address);
      if (this.preferredRanges.some((r) => cidrContains(r, ip))) return 0;
      return PRIVATE_V4.some((r) => cidrContains(r, ip)) ? 3 : 2;
    }
    return 1;
  }
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  if (a.address !== b.address) {
    if (isIpv4(a.address) && isIpv4(b.address)) return parseIp(a.address) - parseIp(b.address);
    return a.address < b.address ? -1 : 1;
  }
  return a.port - b.port;
}
