import type { Endpoint } from '../src/net/endpoint.js';
import { formatIp, scanIp } from '../src/net/ipv4.js';
import { formatVpnAddr, type VpnAddr } from '../src/net/ip.js';
import type { Diagnostics } from '../src/node/diagnostics.js';
import type { HostInfo } from '../src/node/hostmap.js';
import type { LighthouseRole } from '../src/node/node.js';
import { MessageType } from '../src/protocol/header.js';
import { MeshDirectory } from './directory.js';
import {
  emptyMetaDetails,
  encodeMeta,
  hiLoToIp6,
  ip6ToHiLo,
  MetaType,
  type Ip4AndPort,
  type Ip6AndPort,
  type AddrForm,
  type MetaDetails,
  type MetaMessage,
} from '../src/protocol/messages.js';

/** Nebula keeps at most this many reported addresses per family and host. */
export const MAX_REPORTED_PER_FAMILY = 10;
/** Relays a host may name; Nebula has no limit, a bound keeps a hostile update small. */
export const MAX_RELAYS = 10;

/** What the server needs from its node; the composition root wires a MeshNode in, the benchmark fakes it. */
export interface LighthouseNode {
  readonly diag: Pick<Diagnostics, 'drop'>;
  /** Sends on an established tunnel. */
  sendOn(host: HostInfo, type: number, subtype: number, payload: Uint8Array): void;
  /** Sends to a host by overlay IP, handshaking first when there is no tunnel. */
  sendTo(vpnIp: VpnAddr, type: number, subtype: number, payload: Uint8Array): void;
  remoteAllowed(vpnIp: VpnAddr, addr: Endpoint): boolean;
  inVpnNetworks(ip: VpnAddr): boolean;
}

/**
 * One host in the book. IPv4 addresses are packed as uint32 pairs (ip, port) in one array so a
 * host costs a few small objects; IPv6 is rare and kept as protobuf-shaped entries.
 */
interface BookEntry {
  /** UDP source of the host's tunnel: [ip, port] for IPv4, or null. */
  learned4: Ip4AndPort | null;
  learned6: Ip6AndPort | null;
  /** Reported IPv4 as ip0, port0, ip1, port1, ... */
  reported4: number[];
  reported6: Ip6AndPort[];
  relays: VpnAddr[];
  /** The address fields of messages on the host's tunnel (its certificate version). */
  form: AddrForm;
  /** `encodeMeta(None, details, form)` per form: field 2 (Details) only; a message type is prefixed per send. */
  encoded: Uint8Array | null;
  encoded2: Uint8Array | null;
  /** Last HostUpdateNotification or tunnel event (ms since the epoch). */
  seenAt: number;
}

/** A host's book entry as the map shows it. */
export interface BookView {
  learned: Endpoint[];
  reported: Endpoint[];
  relays: VpnAddr[];
  seenAt: number;
}

/**
 * The lighthouse's address book (Nebula 1.6 §5), hosted by a node with `lighthouse.am_lighthouse`.
 * Soft state only: rebuilt from HostUpdateNotifications after a restart.
 */
export class LighthouseServer implements LighthouseRole {
  /** Entries by the host's first address. */
  private readonly book = new Map<VpnAddr, BookEntry>();
  /** The first address of each host with several, by each of its other addresses (IPv6 ones, more IPv4 ones). */
  private readonly aliases = new Map<VpnAddr, VpnAddr>();
  /** Container subnets, names and tunnel reports of the hosts (mesh extension, meta types 100+). */
  readonly directory = new MeshDirectory(Date.now, (vpnIp) => this.changed(vpnIp));
  private readonly watchers = new Set<(vpnIp: VpnAddr) => void>();
  /** Totals since start, for `mesh status` and the metrics. */
  readonly counts = { queries: 0, answers: 0, updates: 0 };

  constructor(readonly node: LighthouseNode) {}

  /** Hosts currently in the book. */
  get size(): number {
    return this.book.size;
  }

  /** Hears of every host that comes, goes or changes; returns the unsubscribe. */
  watch(watcher: (vpnIp: VpnAddr) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** The overlay addresses the book is keyed by (each host's first). */
  hosts(): VpnAddr[] {
    return [...this.book.keys()];
  }

  /** One host's entry for the map: learned and reported addresses apart. */
  view(vpnIp: VpnAddr): BookView | null {
    const entry = this.book.get(vpnIp);
    if (!entry) return null;
    const learned: Endpoint[] = [];
    if (entry.learned4) learned.push({ address: formatIp(entry.learned4.ip), port: entry.learned4.port });
    if (entry.learned6) learned.push({ address: hiLoToIp6(entry.learned6.hi, entry.learned6.lo), port: entry.learned6.port });
    const reported: Endpoint[] = [];
    for (let i = 0; i < entry.reported4.length; i += 2) reported.push({ address: formatIp(entry.reported4[i]!), port: entry.reported4[i + 1]! });
    for (const e of entry.reported6) reported.push({ address: hiLoToIp6(e.hi, e.lo), port: e.port });
    return { learned, reported, relays: [...entry.relays], seenAt: entry.seenAt };
  }

  /** The addresses a query for `vpnIp` would be answered with (learned first), for tests and logs. */
  addressesOf(vpnIp: VpnAddr): { v4: Endpoint[]; v6: Endpoint[]; relays: VpnAddr[] } | null {
    const entry = this.lookup(vpnIp);
    if (!entry) return null;
    const v4 = ip4List(entry).map((e) => ({ address: formatIp(e.ip), port: e.port }));
    const v6 = ip6List(entry).map((e) => ({ address: hiLoToIp6(e.hi, e.lo), port: e.port }));
    return { v4, v6, relays: [...entry.relays] };
  }

  /** What an answer about `vpnIp` carries: its addresses (learned first) and relays; empty if unknown. */
  answerDetails(vpnIp: VpnAddr): Pick<MetaDetails, 'ip4AndPorts' | 'ip6AndPorts' | 'relayVpnIps'> {
    const entry = this.lookup(vpnIp);
    if (!entry) return { ip4AndPorts: [], ip6AndPorts: [], relayVpnIps: [] };
    return { ip4AndPorts: ip4List(entry), ip6AndPorts: ip6List(entry), relayVpnIps: entry.relays };
  }

  /** A NebulaMeta from an established tunnel (already decrypted and decoded). */
  handle(host: HostInfo, meta: MetaMessage): void {
    if (meta.type >= MetaType.MeshSubnetQuery) {
      const reply = (type: number, details: MetaDetails) => {
        if (host.addrForm === 'v1' && typeof details.vpnIp !== 'number') return;
        this.node.sendOn(host, MessageType.LightHouse, 0, encodeMeta(type, details, host.addrForm));
      };
      if (!this.directory.handle(host, meta, reply, (vpnIp) => this.answerDetails(vpnIp))) this.node.diag.drop('lighthouse-unexpected', host.remote);
      return;
    }
    switch (meta.type) {
      case MetaType.HostQuery:
        this.counts.queries++;
        return this.answerQuery(host, meta.details.vpnIp);
      case MetaType.HostUpdateNotification:
        this.counts.updates++;
        return this.update(host, meta);
      default:
        // Replies and punch notifications are for nodes; a lighthouse ignores them like Nebula does.
        this.node.diag.drop('lighthouse-unexpected', host.remote);
    }
  }

  /** A tunnel came up: its UDP source is the host's learned address. */
  onTunnelUp(host: HostInfo): void {
    this.entryFor(host);
    for (let i = 1; i < host.vpnAddrs.length; i++) this.aliases.set(host.vpnAddrs[i]!, host.vpnIp);
    if (host.remote) this.learn(host, host.remote);
    this.directory.onTunnelUp(host);
    this.changed(host.vpnIp);
  }

  /** An established host moved to a new underlay address. */
  onRoam(host: HostInfo): void {
    if (host.remote) this.learn(host, host.remote);
    this.changed(host.vpnIp);
  }

  /** A tunnel is gone (closeTunnel, recv_error, dead): forget the host, as Nebula does. */
  onTunnelGone(host: HostInfo): void {
    this.book.delete(host.vpnIp);
    for (let i = 1; i < host.vpnAddrs.length; i++) if (this.aliases.get(host.vpnAddrs[i]!) === host.vpnIp) this.aliases.delete(host.vpnAddrs[i]!);
    this.directory.onTunnelGone(host);
    this.changed(host.vpnIp);
  }

  stop(): void {
    this.book.clear();
    this.aliases.clear();
  }

  /** The entry of the host owning `vpnIp`, by any of its addresses. */
  private lookup(vpnIp: VpnAddr): BookEntry | undefined {
    return this.book.get(vpnIp) ?? (this.aliases.size === 0 ? undefined : this.book.get(this.aliases.get(vpnIp) ?? vpnIp));
  }

  private entryFor(host: HostInfo): BookEntry {
    let entry = this.book.get(host.vpnIp);
    if (!entry) {
      entry = { learned4: null, learned6: null, reported4: [], reported6: [], relays: [], form: host.addrForm, encoded: null, encoded2: null, seenAt: Date.now() };
      this.book.set(host.vpnIp, entry);
    }
    return entry;
  }

  private learn(host: HostInfo, from: Endpoint): void {
    const entry = this.entryFor(host);
    const ip = scanIp(from.address);
    if (ip >= 0) {
      if (entry.learned4?.ip === ip && entry.learned4.port === from.port) return;
      entry.learned4 = { ip, port: from.port };
    } else {
      const { hi, lo } = ip6ToHiLo(from.address);
      if (entry.learned6?.hi === hi && entry.learned6.lo === lo && entry.learned6.port === from.port) return;
      entry.learned6 = { hi, lo, port: from.port };
    }
    entry.encoded = entry.encoded2 = null;
  }

  /** HostUpdateNotification: replaces what the host reported about itself. */
  private update(host: HostInfo, meta: MetaMessage): void {
    const d = meta.details;
    if (d.vpnIp !== host.vpnIp) {
      // Only a host's own tunnel may speak for it: anything else would poison the book.
      this.node.diag.drop('lighthouse-update-wrong-ip', host.remote, `update for ${formatVpnAddr(d.vpnIp)} from ${formatVpnAddr(host.vpnIp)}`);
      return;
    }
    const entry = this.entryFor(host);
    entry.seenAt = Date.now();
    const reported4: number[] = [];
    for (const e of d.ip4AndPorts) {
      if (reported4.length >= MAX_REPORTED_PER_FAMILY * 2) break;
      if (!this.acceptable4(host.vpnIp, e) || hasPair(reported4, e.ip, e.port)) continue;
      reported4.push(e.ip, e.port);
    }
    const reported6: Ip6AndPort[] = [];
    for (const e of d.ip6AndPorts) {
      if (reported6.length >= MAX_REPORTED_PER_FAMILY) break;
      if (e.port === 0 || (e.hi === 0n && e.lo === 0n)) continue;
      if (reported6.some((r) => r.hi === e.hi && r.lo === e.lo && r.port === e.port)) continue;
      if (!this.node.remoteAllowed(host.vpnIp, { address: hiLoToIp6(e.hi, e.lo), port: e.port })) continue;
      reported6.push({ hi: e.hi, lo: e.lo, port: e.port });
    }
    const relays: VpnAddr[] = [];
    for (const ip of d.relayVpnIps) {
      if (relays.length >= MAX_RELAYS) break;
      if (!host.vpnAddrs.includes(ip) && this.node.inVpnNetworks(ip) && !relays.includes(ip)) relays.push(ip);
    }
    if (sameNumbers(entry.reported4, reported4) && sameIp6(entry.reported6, reported6) && sameNumbers(entry.relays, relays)) return;
    entry.reported4 = reported4;
    entry.reported6 = reported6;
    entry.relays = relays;
    entry.encoded = entry.encoded2 = null;
    this.changed(host.vpnIp);
  }

  private changed(vpnIp: VpnAddr): void {
    for (const watcher of this.watchers) watcher(vpnIp);
  }

  private acceptable4(vpnIp: VpnAddr, e: Ip4AndPort): boolean {
    if (e.ip === 0 || e.port === 0 || this.node.inVpnNetworks(e.ip)) return false;
    return this.node.remoteAllowed(vpnIp, { address: formatIp(e.ip), port: e.port });
  }

  /**
   * HostQuery (about any address of the target): the target's addresses to the querier, then the
   * querier's addresses to the target so both sides punch at once. Unknown target: silence (Nebula
   * has no negative answer). Each message is in the address fields of the tunnel it goes on; a v1
   * tunnel cannot name an IPv6 address, so no such message goes on one.
   */
  private answerQuery(querier: HostInfo, target: VpnAddr): void {
    // One map lookup each for the target and the querier: this runs for every query.
    const direct = this.book.get(target);
    const targetEntry = direct ?? this.lookup(target);
    if (!targetEntry || (querier.addrForm === 'v1' && typeof target !== 'number')) return;
    this.counts.answers++;
    this.node.sendOn(querier, MessageType.LightHouse, 0, withType(MetaType.HostQueryReply, this.encoded(target, targetEntry, querier.addrForm, direct !== undefined)));
    const querierEntry = this.book.get(querier.vpnIp);
    if (!querierEntry || querierEntry === targetEntry || (targetEntry.form === 'v1' && typeof querier.vpnIp !== 'number')) return;
    this.node.sendTo(target, MessageType.LightHouse, 0, withType(MetaType.HostPunchNotification, this.encoded(querier.vpnIp, querierEntry, targetEntry.form, true)));
  }

  /** The answer about `vpnIp` in `form`; cached in its entry when `vpnIp` is the host's first address (`byFirst`). */
  private encoded(vpnIp: VpnAddr, entry: BookEntry, form: AddrForm, byFirst: boolean): Uint8Array {
    if (byFirst) {
      if (form === 'v1') return (entry.encoded ??= this.encode(vpnIp, form));
      return (entry.encoded2 ??= this.encode(vpnIp, form));
    }
    return this.encode(vpnIp, form);
  }

  private encode(vpnIp: VpnAddr, form: AddrForm): Uint8Array {
    return encodeMeta(MetaType.None, { ...emptyMetaDetails(), vpnIp, ...this.answerDetails(vpnIp) }, form);
  }
}

/** Learned first, then reported, without repeating the learned address. */
function ip4List(entry: BookEntry): Ip4AndPort[] {
  const out: Ip4AndPort[] = [];
  const learned = entry.learned4;
  if (learned) out.push(learned);
  const r = entry.reported4;
  for (let i = 0; i < r.length; i += 2) {
    if (learned && learned.ip === r[i] && learned.port === r[i + 1]) continue;
    out.push({ ip: r[i]!, port: r[i + 1]! });
  }
  return out;
}

function ip6List(entry: BookEntry): Ip6AndPort[] {
  const learned = entry.learned6;
  if (!learned) return entry.reported6;
  return [learned, ...entry.reported6.filter((e) => e.hi !== learned.hi || e.lo !== learned.lo || e.port !== learned.port)];
}

/** A NebulaMeta of `type` from the cached Details field: 08 <type> followed by field 2. */
function withType(type: number, details: Uint8Array): Uint8Array {
  const message = new Uint8Array(details.length + 2);
  message[0] = 0x08;
  message[1] = type;
  message.set(details, 2);
  return message;
}

function hasPair(list: number[], ip: number, port: number): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === ip && list[i + 1] === port) return true;
  return false;
}

function sameNumbers(a: readonly VpnAddr[], b: readonly VpnAddr[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameIp6(a: readonly Ip6AndPort[], b: readonly Ip6AndPort[]): boolean {
  return a.length === b.length && a.every((v, i) => v.hi === b[i]!.hi && v.lo === b[i]!.lo && v.port === b[i]!.port);
}
