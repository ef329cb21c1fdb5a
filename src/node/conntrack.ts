/**
 * The firewall's connection tracking table: flows keyed by the locally oriented tuple (local IP,
 * remote IP, local port, remote port, protocol, fragment flag), so replies to an allowed flow match the
 * same entry in the other direction.
 *
 * Built for the per-packet path: lookups allocate nothing (a numeric hash into a Map of chained
 * entries), and expiry is O(expired): entries sit in one list per timeout class (tcp, udp, other),
 * ordered by last refresh, so the head of each list is the next to expire. The table is bounded: when
 * it is full, expired entries are purged and then the entry closest to expiry is evicted.
 *
 * A Conntrack outlives firewall reloads; each Firewall stamps entries with its rules version so that
 * entries created under older rules are re-checked lazily (as Nebula does).
 */
import type { VpnAddr } from '../net/ip.js';
import { type FwPacket, PROTO_TCP, PROTO_UDP } from '../protocol/ip-packet.js';

export interface ConntrackEntry {
  readonly localIp: VpnAddr;
  readonly remoteIp: VpnAddr;
  readonly localPort: number;
  readonly remotePort: number;
  readonly protocol: number;
  readonly fragment: boolean;
  /** Direction of the packet that created the entry (which rule table allowed it). */
  incoming: boolean;
  /** VPN address of the peer the flow was allowed for. */
  peerVpnIp: VpnAddr;
  rulesVersion: number;
  /** Absolute expiry time, ms (same clock as the `now` passed in). */
  expires: number;
  /** What each packet of the flow adds to its life, ms. */
  timeout: number;
  /** Installed in the mirror (the native fast path), with these rules version and expiry. */
  mirrored: boolean;
  mirroredVersion: number;
  mirroredExpires: number;
  /** @internal */ hash: number;
  /** @internal */ nextInBucket: ConntrackEntry | null;
  /** @internal */ prev: ConntrackEntry | null;
  /** @internal */ next: ConntrackEntry | null;
  /** @internal */ cls: number;
}

/** Timeout class of a protocol: 0 tcp, 1 udp, 2 everything else. */
export function timeoutClass(protocol: number): number {
  return protocol === PROTO_TCP ? 0 : protocol === PROTO_UDP ? 1 : 2;
}

/** 32 bits of an address for the hash: IPv4 as is, IPv6 folded (apart, so the IPv4 check stays small). */
function addrBits(a: VpnAddr): number {
  return typeof a === 'number' ? a : fold128(a);
}

function fold128(a: bigint): number {
  return Number(BigInt.asUintN(32, a ^ (a >> 32n) ^ (a >> 64n) ^ (a >> 96n)));
}

function tupleHash(p: FwPacket): number {
  let h = Math.imul(addrBits(p.localIp) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15) ^ addrBits(p.remoteIp), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13) ^ ((p.localPort << 16) | p.remotePort), 0x27d4eb2d);
  h ^= (p.protocol << 1) | (p.fragment ? 1 : 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) | 0;
}

function sameTuple(e: ConntrackEntry, p: FwPacket): boolean {
  return (
    e.localIp === p.localIp &&
    e.remoteIp === p.remoteIp &&
    e.localPort === p.localPort &&
    e.remotePort === p.remotePort &&
    e.protocol === p.protocol &&
    e.fragment === p.fragment
  );
}

/**
 * A copy of some entries kept elsewhere (the native fast path) that forwards packets of those
 * flows itself and refreshes their expiry there. The table asks it before it expires or evicts
 * one of them, and tells it about every one that leaves.
 */
export interface ConntrackMirror {
  /** The expiry the mirror holds for a mirrored entry (it refreshes the flows it forwards); 0 when none. */
  expiresOf(e: ConntrackEntry): number;
  /** A mirrored entry left the table (or changed peer): the mirror must drop it. */
  removed(e: ConntrackEntry): void;
}

export class Conntrack {
  /** Set by the node when a fast path mirrors flows. */
  mirror: ConntrackMirror | null = null;
  private readonly buckets = new Map<number, ConntrackEntry>();
  private readonly heads: Array<ConntrackEntry | null> = [null, null, null];
  private readonly tails: Array<ConntrackEntry | null> = [null, null, null];
  private count = 0;
  private versionCounter = 0;
  /** Entries removed because they timed out. */
  expired = 0;
  /** Entries removed early because the table was full. */
  evicted = 0;

  constructor(public maxConnections: number) {
    if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) throw new RangeError('maxConnections must be a positive integer');
  }

  get size(): number {
    return this.count;
  }

  /** A fresh rules version, for a newly built Firewall sharing this table. */
  nextRulesVersion(): number {
    this.versionCounter = (this.versionCounter + 1) | 0;
    return this.versionCounter;
  }

  /** The live entry for this tuple, or null. An expired entry found here is removed. */
  lookup(p: FwPacket, now: number): ConntrackEntry | null {
    let e = this.buckets.get(tupleHash(p)) ?? null;
    while (e !== null && !sameTuple(e, p)) e = e.nextInBucket;
    if (e === null) return null;
    if (e.expires <= now && !this.revived(e, now)) {
      this.remove(e);
      this.expired++;
      return null;
    }
    return e;
  }

  /** Extends an entry's life and moves it to the tail of its expiry list. */
  refresh(e: ConntrackEntry, timeoutMs: number, now: number): void {
    e.expires = now + timeoutMs;
    e.timeout = timeoutMs;
    this.unlinkList(e);
    this.appendList(e);
  }

  /** Adds (or replaces) the entry for this tuple. */
  add(p: FwPacket, incoming: boolean, peerVpnIp: VpnAddr, rulesVersion: number, timeoutMs: number, now: number): ConntrackEntry {
    const existing = this.lookup(p, now);
    if (existing !== null) {
      if (existing.mirrored && existing.peerVpnIp !== peerVpnIp) this.unmirror(existing);
      existing.incoming = incoming;
      existing.peerVpnIp = peerVpnIp;
      existing.rulesVersion = rulesVersion;
      this.refresh(existing, timeoutMs, now);
      return existing;
    }
    if (this.count >= this.maxConnections) {
      this.purge(now);
      while (this.count >= this.maxConnections) this.evictOne();
    }
    const hash = tupleHash(p);
    const e: ConntrackEntry = {
      localIp: p.localIp,
      remoteIp: p.remoteIp,
      localPort: p.localPort,
      remotePort: p.remotePort,
      protocol: p.protocol,
      fragment: p.fragment,
      incoming,
      peerVpnIp,
      rulesVersion,
      expires: now + timeoutMs,
      timeout: timeoutMs,
      mirrored: false,
      mirroredVersion: 0,
      mirroredExpires: 0,
      hash,
      nextInBucket: this.buckets.get(hash) ?? null,
      prev: null,
      next: null,
      cls: timeoutClass(p.protocol),
    };
    this.buckets.set(hash, e);
    this.appendList(e);
    this.count++;
    return e;
  }

  /** Removes expired entries from the heads of the expiry lists; O(number removed). */
  purge(now: number): void {
    for (let c = 0; c < 3; c++) {
      let e: ConntrackEntry | null = this.heads[c]!;
      while (e !== null && e.expires <= now) {
        const next: ConntrackEntry | null = e.next;
        if (!this.revived(e, now)) {
          this.remove(e);
          this.expired++;
        }
        e = next;
      }
    }
  }

  remove(e: ConntrackEntry): void {
    if (e.mirrored) this.unmirror(e);
    const first = this.buckets.get(e.hash);
    if (first === e) {
      if (e.nextInBucket === null) this.buckets.delete(e.hash);
      else this.buckets.set(e.hash, e.nextInBucket);
    } else {
      let p = first ?? null;
      while (p !== null && p.nextInBucket !== e) p = p.nextInBucket;
      if (p === null) return; // not in the table
      p.nextInBucket = e.nextInBucket;
    }
    e.nextInBucket = null;
    this.unlinkList(e);
    this.count--;
  }

  clear(): void {
    for (const e of this.entries()) if (e.mirrored) this.unmirror(e);
    this.buckets.clear();
    this.heads.fill(null);
    this.tails.fill(null);
    this.count = 0;
  }

  /** Iterates live and not-yet-purged entries (for diagnostics and tests). */
  *entries(): IterableIterator<ConntrackEntry> {
    for (let c = 0; c < 3; c++) for (let e: ConntrackEntry | null = this.heads[c]!; e !== null; e = e.next) yield e;
  }

  /**
   * A mirrored entry the mirror kept alive past `e.expires` takes the mirror's expiry and moves to
   * the tail of its list; false when it is expired there too.
   */
  private revived(e: ConntrackEntry, now: number): boolean {
    if (!e.mirrored || this.mirror === null) return false;
    const expires = this.mirror.expiresOf(e);
    if (expires <= e.expires) return false;
    e.expires = expires;
    this.unlinkList(e);
    this.appendList(e);
    return expires > now;
  }

  private unmirror(e: ConntrackEntry): void {
    e.mirrored = false;
    this.mirror?.removed(e);
  }

  private evictOne(): void {
    // The entry closest to expiry, counting the mirror's refreshes (each entry moves back at most once).
    for (let tries = 0; tries <= this.count; tries++) {
      let victim: ConntrackEntry | null = null;
      for (let c = 0; c < 3; c++) {
        const h = this.heads[c]!;
        if (h !== null && (victim === null || h.expires < victim.expires)) victim = h;
      }
      if (victim === null) return;
      if (tries < this.count && this.revived(victim, victim.expires)) continue;
      this.remove(victim);
      this.evicted++;
      return;
    }
  }

  private appendList(e: ConntrackEntry): void {
    const tail = this.tails[e.cls]!;
    e.prev = tail;
    e.next = null;
    if (tail === null) this.heads[e.cls] = e;
    else tail.next = e;
    this.tails[e.cls] = e;
  }

  private unlinkList(e: ConntrackEntry): void {
    if (e.prev === null) {
      if (this.heads[e.cls] === e) this.heads[e.cls] = e.next;
    } else e.prev.next = e.next;
    if (e.next === null) {
      if (this.tails[e.cls] === e) this.tails[e.cls] = e.prev;
    } else e.next.prev = e.prev;
    e.prev = null;
    e.next = null;
  }
}
