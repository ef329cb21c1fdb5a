/**
 * Nebula's stateful firewall for inner packets (firewall.go), re-implemented, for IPv4 and IPv6.
 *
 * - Default drop in both directions; rules only allow.
 * - For each packet: (1) a conntrack hit allows it (refreshing the entry; entries created under older
 *   rules are re-checked against the current rules first); (2) the remote address must belong to the
 *   peer (its VPN address, or its cert networks/unsafe networks when it has several addresses or any
 *   unsafe network); (3) the local address must be one of ours; (4) the inbound or outbound rule
 *   table must match; then the flow is tracked.
 * - Rule logic: port AND proto AND (ca_sha OR ca_name, when given) AND local_cidr (when given) AND
 *   (host OR groups OR cidr). A rule without local_cidr matches every local address (Nebula 1.6's
 *   behaviour, `default_local_cidr_any: true` in later Nebula).
 * - A protocol other than tcp, udp, icmp (and icmpv6 for an `icmp` rule) only matches `proto: any`.
 *
 * Deliberate difference: a conntrack hit also requires the packet to come from/go to the peer the flow
 * was allowed for; otherwise the packet takes the full path (and still passes when the rules allow it).
 */
import { maskFromBits } from '../net/ipv4.js';
import { formatIpPrefix, type IpNetwork, ipNetworkPrefix, type IpPrefix, ipPrefixContains, type VpnAddr } from '../net/ip.js';
import { type FwPacket, emptyFwPacket, parseIpPacket, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../protocol/ip-packet.js';
import { checkFirewallConfig, type FirewallConfig, type FirewallRule, PORT_ANY, PORT_FRAGMENT } from './config/firewall.js';
import { Conntrack, type ConntrackEntry } from './conntrack.js';

export { Conntrack } from './conntrack.js';

/** Who is on the other end of the tunnel the packet uses. */
export interface PeerIdentity {
  name: string;
  groups: readonly string[];
  /** The address the peer's tunnel is keyed by (its certificate's first network). */
  vpnIp: VpnAddr;
  /** All of its certificate's addresses, vpnIp first. */
  vpnAddrs: readonly VpnAddr[];
  /** Prefixes its inner source addresses may come from, when not only vpnIp (see peerRemoteCidrs). */
  remoteCidrs: readonly IpPrefix[] | null;
  caName: string;
  caSha: string;
}

/**
 * PeerIdentity.remoteCidrs as Nebula builds it from the peer's cert: null (only its one address)
 * unless it has several addresses or any unsafe network; then every address (as a host prefix) and
 * every unsafe network.
 */
export function peerRemoteCidrs(networks: readonly IpNetwork[], unsafeNetworks: readonly IpNetwork[]): IpPrefix[] | null {
  if (networks.length <= 1 && unsafeNetworks.length === 0) return null;
  return localCidrsFromCert(networks, unsafeNetworks);
}

/** The local prefixes the firewall accepts: our cert addresses as host prefixes plus our unsafe networks. */
export function localCidrsFromCert(networks: readonly IpNetwork[], unsafeNetworks: readonly IpNetwork[]): IpPrefix[] {
  return [
    ...networks.map((n): IpPrefix => ({ family: n.family, ip: n.addr, bits: n.family === 4 ? 32 : 128 })),
    ...unsafeNetworks.map(ipNetworkPrefix),
  ];
}

// ---------------------------------------------------------------------------------------------
// Compiled rules
// ---------------------------------------------------------------------------------------------

interface CompiledRule {
  anyPort: boolean;
  fragment: boolean;
  start: number;
  end: number;
  /** No ca_name/ca_sha restriction. */
  anyCa: boolean;
  caName: string | null;
  caSha: string | null;
  /** host any / group any / cidr containing 0.0.0.0 / only CA given: every peer of the CA matches. */
  anyPeer: boolean;
  host: string | null;
  groups: readonly string[] | null;
  cidr: IpPrefix | null;
  localCidr: IpPrefix | null;
}

/** Rules split by protocol: index 0 any, 1 tcp, 2 udp, 3 icmp. */
type Table = [CompiledRule[], CompiledRule[], CompiledRule[], CompiledRule[]];

function compile(rules: readonly FirewallRule[]): Table {
  const t: Table = [[], [], [], []];
  for (const r of rules) {
    const groups = r.groups && r.groups.length > 0 ? r.groups : null;
    const hasCidr = r.cidr !== null;
    // Nebula's isAny(): nothing but a CA given, or host any, or any group named "any", or a CIDR that
    // contains the zero address (0.0.0.0/0 or ::/0 in practice).
    const anyPeer =
      (r.host === null && groups === null && !hasCidr) ||
      r.host === 'any' ||
      (groups !== null && groups.includes('any')) ||
      (hasCidr && r.cidr!.ip === 0n);
    const c: CompiledRule = {
      anyPort: r.startPort === PORT_ANY,
      fragment: r.startPort === PORT_FRAGMENT,
      start: r.startPort,
      end: r.endPort,
      anyCa: r.caName === null && r.caSha === null,
      caName: r.caName,
      caSha: r.caSha === null ? null : r.caSha.toLowerCase(),
      anyPeer,
      host: r.host,
      groups,
      cidr: r.cidr,
      localCidr: r.localCidr,
    };
    const idx = r.proto === 'any' ? 0 : r.proto === 'tcp' ? 1 : r.proto === 'udp' ? 2 : 3;
    t[idx].push(c);
  }
  return t;
}

function ruleMatches(r: CompiledRule, p: FwPacket, incoming: boolean, peer: PeerIdentity): boolean {
  if (!r.anyPort) {
    if (p.fragment) {
      if (!r.fragment) return false;
    } else {
      if (r.fragment) return false;
      const port = incoming ? p.localPort : p.remotePort;
      if (port < r.start || port > r.end) return false;
    }
  }
  if (!r.anyCa) {
    const shaOk = r.caSha !== null && r.caSha === peer.caSha.toLowerCase();
    const nameOk = r.caName !== null && r.caName === peer.caName;
    if (!shaOk && !nameOk) return false;
  }
  if (r.localCidr !== null && !ipPrefixContains(r.localCidr, p.localIp)) return false;
  if (r.anyPeer) return true;
  if (r.host !== null && r.host === peer.name) return true;
  if (r.groups !== null) {
    let all = true;
    for (let i = 0; i < r.groups.length; i++) {
      if (!peer.groups.includes(r.groups[i]!)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  if (r.cidr !== null && ipPrefixContains(r.cidr, p.remoteIp)) return true;
  return false;
}

function tableMatches(t: Table, p: FwPacket, incoming: boolean, peer: PeerIdentity): boolean {
  const anyRules = t[0];
  for (let i = 0; i < anyRules.length; i++) if (ruleMatches(anyRules[i]!, p, incoming, peer)) return true;
  const idx = p.protocol === PROTO_TCP ? 1 : p.protocol === PROTO_UDP ? 2 : p.protocol === PROTO_ICMP || p.protocol === PROTO_ICMPV6 ? 3 : -1;
  if (idx < 0) return false;
  const rules = t[idx as 1 | 2 | 3];
  for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i]!, p, incoming, peer)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Firewall
// ---------------------------------------------------------------------------------------------

export const DROP_MALFORMED = 'malformed packet';
export const DROP_REMOTE_IP = 'remote address not allowed';
export const DROP_LOCAL_IP = 'local address not allowed';
export const DROP_NO_RULE = 'no matching rule';

export interface DirectionStats {
  /** Allowed by a rule (a new conntrack entry was made). */
  allowedByRule: number;
  /** Allowed by an existing conntrack entry. */
  allowedByConntrack: number;
  droppedMalformed: number;
  droppedRemoteIp: number;
  droppedLocalIp: number;
  droppedNoRule: number;
}

export interface FirewallStats {
  readonly inbound: DirectionStats;
  readonly outbound: DirectionStats;
  /** Live view of the (shared) conntrack table. */
  readonly conntrack: { readonly size: number; readonly max: number; readonly expired: number; readonly evicted: number };
}

export interface FirewallOptions {
  /** Extra local prefixes accepted besides the cert's (unsafe routes, container subnets, ...). */
  extraLocalCidrs?: readonly IpPrefix[];
  /** Reuse this conntrack table (as withRules does); its size bound is updated from the config. */
  conntrack?: Conntrack;
}

function newDirectionStats(): DirectionStats {
  return { allowedByRule: 0, allowedByConntrack: 0, droppedMalformed: 0, droppedRemoteIp: 0, droppedLocalIp: 0, droppedNoRule: 0 };
}

export class Firewall {
  readonly stats: FirewallStats;
  /** Rules version stamped on conntrack entries this firewall creates. */
  readonly rulesVersion: number;
  /** IPv4 local prefixes as plain numbers (the v4 path does no bigint work). */
  private readonly localNets: Uint32Array;
  private readonly localMasks: Uint32Array;
  private readonly localPrefixes6: readonly IpPrefix[];
  private readonly scratch: FwPacket = emptyFwPacket();
  /** The conntrack entry that allowed the last packet checked (null when it was dropped): what a fast path may mirror. */
  lastAllowed: ConntrackEntry | null = null;
  private readonly timeouts: [number, number, number];

  private constructor(
    readonly config: FirewallConfig,
    private readonly inRules: Table,
    private readonly outRules: Table,
    readonly localCidrs: readonly IpPrefix[],
    readonly extraLocalCidrs: readonly IpPrefix[],
    readonly conntrack: Conntrack,
  ) {
    this.rulesVersion = conntrack.nextRulesVersion();
    const all = [...localCidrs, ...extraLocalCidrs];
    const v4 = all.filter((c) => c.family === 4);
    this.localPrefixes6 = all.filter((c) => c.family === 6);
    this.localNets = new Uint32Array(v4.length);
    this.localMasks = new Uint32Array(v4.length);
    v4.forEach((c, i) => {
      const m = maskFromBits(c.bits);
      this.localMasks[i] = m;
      this.localNets[i] = (Number(c.ip) & m) >>> 0;
    });
    const ct = config.conntrack;
    this.timeouts = [ct.tcpTimeout, ct.udpTimeout, ct.defaultTimeout];
    const inbound = newDirectionStats();
    const outbound = newDirectionStats();
    this.stats = {
      inbound,
      outbound,
      conntrack: {
        get size() {
          return conntrack.size;
        },
        get max() {
          return conntrack.maxConnections;
        },
        get expired() {
          return conntrack.expired;
        },
        get evicted() {
          return conntrack.evicted;
        },
      },
    };
  }

  /**
   * Builds a firewall. `localCidrs`: our cert addresses (as host prefixes) plus unsafe networks (see
   * localCidrsFromCert). Throws UserError naming the bad rule key.
   */
  static fromConfig(fw: FirewallConfig, localCidrs: readonly IpPrefix[], options: FirewallOptions = {}): Firewall {
    checkFirewallConfig(fw);
    const ct = fw.conntrack;
    const conntrack = options.conntrack ?? new Conntrack(ct.maxConnections);
    conntrack.maxConnections = ct.maxConnections;
    return new Firewall(fw, compile(fw.inbound), compile(fw.outbound), localCidrs, options.extraLocalCidrs ?? [], conntrack);
  }

  /**
   * A firewall with new rules (config reload) that keeps this one's conntrack table, extra local
   * CIDRs and (unless given, e.g. after a cert reload) local CIDRs.
   * Existing entries are re-checked against the new rules the next time they are hit.
   */
  withRules(fw: FirewallConfig, localCidrs: readonly IpPrefix[] = this.localCidrs): Firewall {
    return Firewall.fromConfig(fw, localCidrs, { extraLocalCidrs: this.extraLocalCidrs, conntrack: this.conntrack });
  }

  /** Same rules and conntrack, different local CIDRs (own cert reloaded, unsafe routes changed). */
  withLocalCidrs(localCidrs: readonly IpPrefix[], extraLocalCidrs: readonly IpPrefix[] = this.extraLocalCidrs): Firewall {
    return Firewall.fromConfig(this.config, localCidrs, { extraLocalCidrs, conntrack: this.conntrack });
  }

  /** A packet that arrived from `peer` and is about to be written to the tun. null = allow. */
  inbound(packet: Uint8Array, peer: PeerIdentity, now: number = Date.now()): string | null {
    return this.check(packet, true, peer, now);
  }

  /** A packet read from the tun, about to be sent to `peer`. null = allow. */
  outbound(packet: Uint8Array, peer: PeerIdentity, now: number = Date.now()): string | null {
    return this.check(packet, false, peer, now);
  }

  /** Drops expired conntrack entries; also done on every check, so calling it is optional. */
  purge(now: number = Date.now()): void {
    this.conntrack.purge(now);
  }

  /** Human-readable rule summary (for logs). */
  describeRules(): string[] {
    const fmt = (dir: string, r: FirewallRule): string => {
      const port = r.startPort === PORT_ANY ? 'any' : r.startPort === PORT_FRAGMENT ? 'fragment' : r.startPort === r.endPort ? `${r.startPort}` : `${r.startPort}-${r.endPort}`;
      const parts = [`${dir} port=${port} proto=${r.proto}`];
      if (r.host !== null) parts.push(`host=${r.host}`);
      if (r.groups !== null) parts.push(`groups=${r.groups.join('+')}`);
      if (r.cidr !== null) parts.push(`cidr=${formatIpPrefix(r.cidr)}`);
      if (r.localCidr !== null) parts.push(`local_cidr=${formatIpPrefix(r.localCidr)}`);
      if (r.caName !== null) parts.push(`ca_name=${r.caName}`);
      if (r.caSha !== null) parts.push(`ca_sha=${r.caSha}`);
      return parts.join(' ');
    };
    return [...this.config.inbound.map((r) => fmt('inbound', r)), ...this.config.outbound.map((r) => fmt('outbound', r))];
  }

  private check(packet: Uint8Array, incoming: boolean, peer: PeerIdentity, now: number): string | null {
    const stats = incoming ? this.stats.inbound : this.stats.outbound;
    this.lastAllowed = null;
    const p = parseIpPacket(packet, incoming, this.scratch);
    if (p === null) {
      stats.droppedMalformed++;
      return DROP_MALFORMED;
    }
    const ct = this.conntrack;
    ct.purge(now);
    const timeout = this.timeouts[p.protocol === PROTO_TCP ? 0 : p.protocol === PROTO_UDP ? 1 : 2];

    // (1) Conntrack.
    const e: ConntrackEntry | null = ct.lookup(p, now);
    if (e !== null && e.peerVpnIp === peer.vpnIp) {
      let ok = true;
      if (e.rulesVersion !== this.rulesVersion) {
        // Created under older rules: keep it only if the current rules still allow the flow.
        if (tableMatches(e.incoming ? this.inRules : this.outRules, p, e.incoming, peer)) e.rulesVersion = this.rulesVersion;
        else {
          ct.remove(e);
          ok = false;
        }
      }
      if (ok) {
        ct.refresh(e, timeout, now);
        stats.allowedByConntrack++;
        this.lastAllowed = e;
        return null;
      }
    }

    // (2) The remote address must belong to the peer.
    const remoteCidrs = peer.remoteCidrs;
    if (remoteCidrs === null ? p.remoteIp !== peer.vpnIp : !anyContains(remoteCidrs, p.remoteIp)) {
      stats.droppedRemoteIp++;
      return DROP_REMOTE_IP;
    }

    // (3) The local address must be ours.
    if (!this.isLocal(p.localIp)) {
      stats.droppedLocalIp++;
      return DROP_LOCAL_IP;
    }

    // (4) Rules.
    if (!tableMatches(incoming ? this.inRules : this.outRules, p, incoming, peer)) {
      stats.droppedNoRule++;
      return DROP_NO_RULE;
    }
    this.lastAllowed = ct.add(p, incoming, peer.vpnIp, this.rulesVersion, timeout, now);
    stats.allowedByRule++;
    return null;
  }

  private isLocal(a: VpnAddr): boolean {
    if (typeof a === 'bigint') return anyContains(this.localPrefixes6, a);
    for (let i = 0; i < this.localNets.length; i++) if (((a & this.localMasks[i]!) >>> 0) === this.localNets[i]) return true;
    return false;
  }
}

function anyContains(prefixes: readonly IpPrefix[], a: VpnAddr): boolean {
  for (let i = 0; i < prefixes.length; i++) if (ipPrefixContains(prefixes[i]!, a)) return true;
  return false;
}
