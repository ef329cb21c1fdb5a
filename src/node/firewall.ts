/**
 * Nebula 1.6's stateful firewall for inner packets (firewall.go), re-implemented.
 *
 * - Default drop in both directions; rules only allow.
 * - For each packet: (1) a conntrack hit allows it (refreshing the entry; entries created under older
 *   rules are re-checked against the current rules first); (2) the remote IP must belong to the peer
 *   (its VPN IP, or its cert Ips/Subnets when it has several IPs or any subnet); (3) the local IP must
 *   be one of ours; (4) the inbound or outbound rule table must match; then the flow is tracked.
 * - Rule logic: port AND proto AND (ca_sha OR ca_name, when given) AND (host OR groups OR cidr).
 *
 * Deliberate difference: a conntrack hit also requires the packet to come from/go to the peer the flow
 * was allowed for; otherwise the packet takes the full path (and still passes when the rules allow it).
 */
import type { NodeConfig } from './config.js';
import { showValue, UserError } from '../errors.js';
import { type Cidr, formatCidr, maskFromBits, parseCidr } from '../net/ipv4.js';
import { type FwPacket, emptyFwPacket, parseIpPacket, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../protocol/ip-packet.js';
import { Conntrack, type ConntrackEntry } from './conntrack.js';

export { Conntrack } from './conntrack.js';

/** `port: any` / `0`. */
export const PORT_ANY = 0;
/** `port: fragment`: second and later fragments. */
export const PORT_FRAGMENT = -1;

export type FirewallProto = 'any' | 'tcp' | 'udp' | 'icmp';

/** One parsed rule of firewall.inbound / firewall.outbound. */
export interface FirewallRule {
  /** PORT_ANY..PORT_ANY for any, PORT_FRAGMENT..PORT_FRAGMENT for fragments, else 1..65535 range. */
  startPort: number;
  endPort: number;
  proto: FirewallProto;
  /** Cert name, "any", or null when not given. */
  host: string | null;
  /** `group` (as a one-element list) or `groups`; all must be in the peer cert. null when not given. */
  groups: string[] | null;
  cidr: Cidr | null;
  caName: string | null;
  caSha: string | null;
  /** Where the rule came from, e.g. "firewall.inbound[1]" (for messages). */
  key: string;
}

/** Who is on the other end of the tunnel the packet uses. */
export interface PeerIdentity {
  name: string;
  groups: readonly string[];
  vpnIp: number;
  /** cert Ips(/32)+Subnets when >1 IP or any subnet, else null */
  remoteCidrs: readonly Cidr[] | null;
  caName: string;
  caSha: string;
}

/** Builds PeerIdentity.remoteCidrs the way Nebula does from the peer's cert. */
export function peerRemoteCidrs(certIps: readonly Cidr[], certSubnets: readonly Cidr[]): Cidr[] | null {
  if (certIps.length <= 1 && certSubnets.length === 0) return null;
  return [...certIps.map((c) => ({ ip: c.ip, bits: 32 })), ...certSubnets];
}

/** The local CIDRs the firewall accepts: our cert Ips as /32 plus our cert Subnets. */
export function localCidrsFromCert(certIps: readonly Cidr[], certSubnets: readonly Cidr[]): Cidr[] {
  return [...certIps.map((c) => ({ ip: c.ip, bits: 32 })), ...certSubnets];
}

// ---------------------------------------------------------------------------------------------
// Rule parsing (used by the config loader and by Firewall.fromConfig)
// ---------------------------------------------------------------------------------------------

const RULE_KEYS = ['port', 'code', 'proto', 'host', 'group', 'groups', 'cidr', 'ca_name', 'ca_sha'];

function ruleError(key: string, text: string): UserError {
  return new UserError(`config: ${key}: ${text}`);
}

/** Nebula's fmt.Sprintf("%v") for a rule value; "" means absent. */
function scalarText(v: unknown, key: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw ruleError(key, `expected a single value, got ${Array.isArray(v) ? 'a list' : 'a mapping'}`);
}

/** Parses a port/code value: any, 0, a number, a range "a-b", or fragment. */
export function parsePort(text: string, key: string): { startPort: number; endPort: number } {
  const s = text.trim();
  if (s === 'any') return { startPort: PORT_ANY, endPort: PORT_ANY };
  if (s === 'fragment') return { startPort: PORT_FRAGMENT, endPort: PORT_FRAGMENT };
  const num = (t: string, what: string): number => {
    const u = t.trim();
    if (!/^\d{1,5}$/.test(u) || Number(u) > 65535) throw ruleError(key, `expected any, fragment, a port 0-65535 or a range like 200-901; ${what} ${showValue(t)} is not a port`);
    return Number(u);
  };
  if (s.includes('-')) {
    const dash = s.indexOf('-');
    const start = num(s.slice(0, dash), 'range start');
    const end = num(s.slice(dash + 1), 'range end');
    if (start === PORT_ANY) return { startPort: PORT_ANY, endPort: PORT_ANY }; // Nebula: a range from 0 is any
    if (start > end) throw ruleError(key, `range start ${start} is greater than range end ${end}`);
    return { startPort: start, endPort: end };
  }
  if (s === '') throw ruleError(key, 'expected any, fragment, a port 0-65535 or a range like 200-901, got ""');
  const p = num(s, 'value');
  return { startPort: p, endPort: p };
}

/**
 * Parses one table (firewall.inbound or firewall.outbound). `warn(key, text)` receives notes such as
 * an unknown rule key; errors are UserErrors naming the rule key, e.g. "firewall.inbound[1].port".
 */
export function parseFirewallRules(raw: unknown, table: string, warn?: (key: string, text: string) => void): FirewallRule[] {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw ruleError(table, `expected a list of rules, got ${typeof raw === 'object' ? 'a mapping' : showValue(raw)}`);
  return raw.map((item, i) => parseFirewallRule(item, `${table}[${i}]`, warn));
}

export function parseFirewallRule(item: unknown, key: string, warn?: (key: string, text: string) => void): FirewallRule {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw ruleError(key, `expected a rule mapping (port, proto, host/group/groups/cidr/ca_name/ca_sha), got ${showValue(item)}`);
  const r = item as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!RULE_KEYS.includes(k)) warn?.(`${key}.${k}`, k === 'local_cidr' ? 'only exists in later nebula versions, ignored' : 'unknown rule key, ignored');
  }
  const port = scalarText(r.port, `${key}.port`);
  const code = scalarText(r.code, `${key}.code`);
  if (port !== '' && code !== '') throw ruleError(key, 'only one of port or code should be provided');
  if (port === '' && code === '') throw ruleError(`${key}.port`, 'required (any, a number, a range like 200-901, or fragment)');
  const portKey = code !== '' ? `${key}.code` : `${key}.port`;
  const { startPort, endPort } = parsePort(code !== '' ? code : port, portKey);

  const protoText = scalarText(r.proto, `${key}.proto`);
  if (protoText !== 'any' && protoText !== 'tcp' && protoText !== 'udp' && protoText !== 'icmp') {
    throw ruleError(`${key}.proto`, `expected one of any, tcp, udp, icmp, got ${showValue(r.proto ?? '')}`);
  }

  const host = scalarText(r.host, `${key}.host`);
  let group: string;
  if (Array.isArray(r.group)) {
    if (r.group.length > 1) throw ruleError(`${key}.group`, 'should be a single value; use groups for a list (all must match)');
    warn?.(`${key}.group`, 'was a list with a single value, using that value');
    group = scalarText(r.group[0], `${key}.group`);
  } else group = scalarText(r.group, `${key}.group`);

  let groups: string[] = [];
  if (r.groups !== null && r.groups !== undefined) {
    if (Array.isArray(r.groups)) groups = r.groups.map((g, j) => scalarText(g, `${key}.groups[${j}]`));
    else groups = [scalarText(r.groups, `${key}.groups`)];
  }
  if (group !== '' && groups.length > 0) throw ruleError(key, 'only one of group or groups should be defined, both provided');
  if (group !== '') groups = [group];

  const cidrText = scalarText(r.cidr, `${key}.cidr`);
  let cidr: Cidr | null = null;
  if (cidrText !== '') {
    try {
      const c = parseCidr(cidrText.trim());
      cidr = { ip: (c.ip & maskFromBits(c.bits)) >>> 0, bits: c.bits };
    } catch {
      throw ruleError(`${key}.cidr`, `expected an IPv4 CIDR like 10.0.0.0/8 (0.0.0.0/0 = any), got ${showValue(r.cidr)}`);
    }
  }
  const caName = scalarText(r.ca_name, `${key}.ca_name`);
  const caSha = scalarText(r.ca_sha, `${key}.ca_sha`);
  if (host === '' && groups.length === 0 && cidr === null && caName === '' && caSha === '') {
    throw ruleError(key, 'at least one of host, group, groups, cidr, ca_name, or ca_sha must be provided');
  }
  return {
    startPort,
    endPort,
    proto: protoText,
    host: host === '' ? null : host,
    groups: groups.length > 0 ? groups : null,
    cidr,
    caName: caName === '' ? null : caName,
    caSha: caSha === '' ? null : caSha,
    key,
  };
}

/** Checks a FirewallRule built in code (not by the parser); throws UserError naming the rule key. */
function validateRule(r: FirewallRule, key: string): void {
  const okPort = (p: number): boolean => Number.isInteger(p) && p >= PORT_FRAGMENT && p <= 65535;
  if (!okPort(r.startPort) || !okPort(r.endPort)) throw ruleError(`${key}.port`, `invalid port range ${r.startPort}-${r.endPort}`);
  if (r.startPort > r.endPort) throw ruleError(`${key}.port`, `range start ${r.startPort} is greater than range end ${r.endPort}`);
  if ((r.startPort === PORT_FRAGMENT) !== (r.endPort === PORT_FRAGMENT)) throw ruleError(`${key}.port`, 'fragment cannot be part of a range');
  if (!['any', 'tcp', 'udp', 'icmp'].includes(r.proto)) throw ruleError(`${key}.proto`, `expected one of any, tcp, udp, icmp, got ${showValue(r.proto)}`);
  if (r.host === null && (r.groups === null || r.groups.length === 0) && r.cidr === null && r.caName === null && r.caSha === null) {
    throw ruleError(key, 'at least one of host, group, groups, cidr, ca_name, or ca_sha must be provided');
  }
  if (r.cidr !== null && (!Number.isInteger(r.cidr.bits) || r.cidr.bits < 0 || r.cidr.bits > 32)) throw ruleError(`${key}.cidr`, 'prefix must be 0..32');
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
  cidrNet: number;
  cidrMask: number;
  hasCidr: boolean;
}

/** Rules split by protocol: index 0 any, 1 tcp, 2 udp, 3 icmp. */
type Table = [CompiledRule[], CompiledRule[], CompiledRule[], CompiledRule[]];

function compile(rules: readonly FirewallRule[]): Table {
  const t: Table = [[], [], [], []];
  for (const r of rules) {
    const groups = r.groups && r.groups.length > 0 ? r.groups : null;
    const hasCidr = r.cidr !== null;
    const mask = hasCidr ? maskFromBits(r.cidr!.bits) : 0;
    const net = hasCidr ? (r.cidr!.ip & mask) >>> 0 : 0;
    // Nebula's isAny(): nothing but a CA given, or host any, or any group named "any", or a CIDR that
    // contains 0.0.0.0 (0.0.0.0/0 in practice).
    const anyPeer =
      (r.host === null && groups === null && !hasCidr) ||
      r.host === 'any' ||
      (groups !== null && groups.includes('any')) ||
      (hasCidr && net === 0);
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
      cidrNet: net,
      cidrMask: mask,
      hasCidr,
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
  if (r.hasCidr && ((p.remoteIp & r.cidrMask) >>> 0) === r.cidrNet) return true;
  return false;
}

function tableMatches(t: Table, p: FwPacket, incoming: boolean, peer: PeerIdentity): boolean {
  const anyRules = t[0];
  for (let i = 0; i < anyRules.length; i++) if (ruleMatches(anyRules[i]!, p, incoming, peer)) return true;
  const idx = p.protocol === PROTO_TCP ? 1 : p.protocol === PROTO_UDP ? 2 : p.protocol === PROTO_ICMP ? 3 : -1;
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
  /** Extra local CIDRs accepted besides the cert's (unsafe routes, container subnets, ...). */
  extraLocalCidrs?: readonly Cidr[];
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
  private readonly localNets: Uint32Array;
  private readonly localMasks: Uint32Array;
  private readonly scratch: FwPacket = emptyFwPacket();
  private readonly timeouts: [number, number, number];

  private constructor(
    readonly config: NodeConfig['firewall'],
    private readonly inRules: Table,
    private readonly outRules: Table,
    readonly localCidrs: readonly Cidr[],
    readonly extraLocalCidrs: readonly Cidr[],
    readonly conntrack: Conntrack,
  ) {
    this.rulesVersion = conntrack.nextRulesVersion();
    const all = [...localCidrs, ...extraLocalCidrs];
    this.localNets = new Uint32Array(all.length);
    this.localMasks = new Uint32Array(all.length);
    all.forEach((c, i) => {
      const m = maskFromBits(c.bits);
      this.localMasks[i] = m;
      this.localNets[i] = (c.ip & m) >>> 0;
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
   * Builds a firewall. `localCidrs`: our cert Ips (as /32) plus Subnets (see localCidrsFromCert).
   * Throws UserError naming the bad rule key.
   */
  static fromConfig(fw: NodeConfig['firewall'], localCidrs: readonly Cidr[], options: FirewallOptions = {}): Firewall {
    const ct = fw.conntrack;
    for (const [k, v] of [
      ['tcp_timeout', ct.tcpTimeout],
      ['udp_timeout', ct.udpTimeout],
      ['default_timeout', ct.defaultTimeout],
    ] as const) {
      if (!(v > 0) || !Number.isFinite(v)) throw new UserError(`config: firewall.conntrack.${k}: expected a duration greater than 0, got ${v}ms`);
    }
    if (!Number.isSafeInteger(ct.maxConnections) || ct.maxConnections < 1) {
      throw new UserError(`config: firewall.conntrack.max_connections: expected an integer >= 1, got ${ct.maxConnections}`);
    }
    fw.inbound.forEach((r, i) => validateRule(r, `firewall.inbound[${i}]`));
    fw.outbound.forEach((r, i) => validateRule(r, `firewall.outbound[${i}]`));
    const conntrack = options.conntrack ?? new Conntrack(ct.maxConnections);
    conntrack.maxConnections = ct.maxConnections;
    return new Firewall(fw, compile(fw.inbound), compile(fw.outbound), localCidrs, options.extraLocalCidrs ?? [], conntrack);
  }

  /**
   * A firewall with new rules (config reload) that keeps this one's conntrack table, extra local
   * CIDRs and (unless given, e.g. after a cert reload) local CIDRs.
   * Existing entries are re-checked against the new rules the next time they are hit.
   */
  withRules(fw: NodeConfig['firewall'], localCidrs: readonly Cidr[] = this.localCidrs): Firewall {
    return Firewall.fromConfig(fw, localCidrs, { extraLocalCidrs: this.extraLocalCidrs, conntrack: this.conntrack });
  }

  /** Same rules and conntrack, different local CIDRs (own cert reloaded, unsafe routes changed). */
  withLocalCidrs(localCidrs: readonly Cidr[], extraLocalCidrs: readonly Cidr[] = this.extraLocalCidrs): Firewall {
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
      if (r.cidr !== null) parts.push(`cidr=${formatCidr(r.cidr)}`);
      if (r.caName !== null) parts.push(`ca_name=${r.caName}`);
      if (r.caSha !== null) parts.push(`ca_sha=${r.caSha}`);
      return parts.join(' ');
    };
    return [...this.config.inbound.map((r) => fmt('inbound', r)), ...this.config.outbound.map((r) => fmt('outbound', r))];
  }

  private check(packet: Uint8Array, incoming: boolean, peer: PeerIdentity, now: number): string | null {
    const stats = incoming ? this.stats.inbound : this.stats.outbound;
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
    if (e !== null && e.peerVpnIp === peer.vpnIp >>> 0) {
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
        return null;
      }
    }

    // (2) The remote address must belong to the peer.
    const remoteCidrs = peer.remoteCidrs;
    if (remoteCidrs === null) {
      if (p.remoteIp !== peer.vpnIp >>> 0) {
        stats.droppedRemoteIp++;
        return DROP_REMOTE_IP;
      }
    } else {
      let found = false;
      for (let i = 0; i < remoteCidrs.length; i++) {
        const c = remoteCidrs[i]!;
        const m = maskFromBits(c.bits);
        if (((p.remoteIp & m) >>> 0) === ((c.ip & m) >>> 0)) {
          found = true;
          break;
        }
      }
      if (!found) {
        stats.droppedRemoteIp++;
        return DROP_REMOTE_IP;
      }
    }

    // (3) The local address must be ours.
    let local = false;
    for (let i = 0; i < this.localNets.length; i++) {
      if (((p.localIp & this.localMasks[i]!) >>> 0) === this.localNets[i]) {
        local = true;
        break;
      }
    }
    if (!local) {
      stats.droppedLocalIp++;
      return DROP_LOCAL_IP;
    }

    // (4) Rules.
    if (!tableMatches(incoming ? this.inRules : this.outRules, p, incoming, peer)) {
      stats.droppedNoRule++;
      return DROP_NO_RULE;
    }
    ct.add(p, incoming, peer.vpnIp >>> 0, this.rulesVersion, timeout, now);
    stats.allowedByRule++;
    return null;
  }
}
