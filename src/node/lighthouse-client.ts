import { lookup } from 'node:dns/promises';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Endpoint } from '../net/endpoint.js';
import { scanIp } from '../net/ipv4.js';
import { formatVpnAddr, ipFamily, type VpnAddr } from '../net/ip.js';
import { MessageType } from '../protocol/header.js';
import {
  emptyMetaDetails,
  encodeMeta,
  hiLoToIp6,
  ip6ToHiLo,
  MAX_REPORTED_TUNNELS,
  MetaType,
  NAT_MAPPINGS,
  type Ip4AndPort,
  type Ip6AndPort,
  type MetaDetails,
  type MeshTunnel,
  type MetaMessage,
  type NatMapping,
} from '../protocol/messages.js';
import { allowListAllows, localAllowListAllowsName } from '../net/allow-list.js';
import type { NodeConfig } from './config.js';
import type { HostInfo, HostMap } from './hostmap.js';
import { Puncher, type PunchDeps } from './punching.js';
import type { Timer } from './timers.js';

/** The local interfaces, as os.networkInterfaces() reports them (injectable for tests). */
export type InterfaceSource = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

/** What the lighthouse client needs from its node (and its puncher). */
export interface LighthouseClientDeps extends PunchDeps {
  readonly hostmap: HostMap;
  settings(): Pick<NodeConfig, 'lighthouse' | 'relay' | 'punchy'>;
  listenPort(): number;
  /** Our address as the lighthouses' STUN saw it, once known. */
  reflexive(): Endpoint | null;
  remoteAllowed(vpnIp: VpnAddr, addr: Endpoint): boolean;
  /** Sends message 1 of a pending handshake now that an answer brought addresses. */
  triggerHandshake(vpnIp: VpnAddr): void;
  /** The relay traffic to `vpnIp` goes through, or null when direct. */
  relayFor(vpnIp: VpnAddr): VpnAddr | null;
  /** Sends an RTT probe on a tunnel (ConnectionManager.probeRtt). */
  probeRtt(host: HostInfo): void;
  natMapping(): NatMapping;
  readonly networkInterfaces?: InterfaceSource;
}

/** A handler for a lighthouse's answer of one mesh extension type (container subnets, names). */
export type ReplyHandler = (lighthouse: HostInfo, details: MetaDetails) => void;

/** Addresses taken from one lighthouse answer, per family (Nebula: MaxRemotes = 10). */
const MAX_ANSWER_PER_FAMILY = 10;
/** Relays taken from one lighthouse answer. */
const MAX_ANSWER_RELAYS = 10;
/** Ages beyond 8.5 years are reported as that (a four-byte varint). */
const MAX_REPORTED_AGE_SECONDS = 0x0fffffff;

/**
 * A node's side of the lighthouse protocol (Nebula 1.6 §5): registration updates, host queries,
 * query replies into the remote lists, and punch notifications.
 */
export class LighthouseClient {
  readonly puncher: Puncher;
  private lighthouses: ReadonlySet<VpnAddr>;
  private readonly replyHandlers = new Map<number, ReplyHandler>();
  /** When each lighthouse last sent us a message (ms since the epoch), for `mesh status`. */
  private readonly lastAnswerAt = new Map<VpnAddr, number>();
  private updateTimer: Timer | null = null;
  private readonly interfaces: InterfaceSource;
  /** advertise_addrs given as names, once resolved. */
  private resolvedAdvertised: Endpoint[] = [];
  private stopped = false;

  constructor(private readonly deps: LighthouseClientDeps) {
    this.puncher = new Puncher(deps);
    this.interfaces = deps.networkInterfaces ?? networkInterfaces;
    const { lighthouse } = deps.settings();
    // A lighthouse neither registers nor queries (Nebula ignores lighthouse.hosts there).
    this.lighthouses = new Set(lighthouse.amLighthouse ? [] : lighthouse.hosts);
  }

  /** Routes a lighthouse's answers of a mesh extension type to the component that asked. */
  onReply(type: number, handler: ReplyHandler): void {
    this.replyHandlers.set(type, handler);
  }

  /** Our lighthouses and when each last answered (null: never). */
  lighthouseStatus(): { vpnIp: VpnAddr; lastAnswerAt: number | null }[] {
    return [...this.lighthouses].map((vpnIp) => ({ vpnIp, lastAnswerAt: this.lastAnswerAt.get(vpnIp) ?? null }));
  }

  /** True when `vpnIp` is one of our configured lighthouses. */
  isLighthouse(vpnIp: VpnAddr): boolean {
    return this.lighthouses.has(vpnIp);
  }

  start(): void {
    this.puncher.start();
    this.register();
  }

  /**
   * SIGHUP: lighthouse.hosts, lighthouse.interval, advertise_addrs, local_allow_list and punchy take
   * effect, with an update sent at once to every lighthouse (a new one gets a handshake; the node
   * has applied its static_host_map entry before).
   */
  reload(): void {
    const now = this.deps.settings().lighthouse;
    const wanted = new Set<VpnAddr>(now.amLighthouse ? [] : now.hosts);
    if (wanted.size !== this.lighthouses.size || [...wanted].some((ip) => !this.lighthouses.has(ip))) {
      this.deps.diag.log.info({ before: [...this.lighthouses].map(formatVpnAddr), now: [...wanted].map(formatVpnAddr) }, 'lighthouse.hosts changed');
      for (const ip of this.lastAnswerAt.keys()) if (!wanted.has(ip)) this.lastAnswerAt.delete(ip);
      this.lighthouses = wanted;
    }
    this.puncher.start();
    this.updateTimer?.cancel();
    this.updateTimer = null;
    this.resolvedAdvertised = [];
    this.register();
  }

  /** An update now, then every lighthouse.interval. */
  private register(): void {
    if (this.lighthouses.size === 0 || this.stopped) return;
    this.sendUpdate();
    const { interval, advertiseAddrs } = this.deps.settings().lighthouse;
    if (interval > 0) this.updateTimer = this.deps.timers.every(interval, () => this.sendUpdate());
    const names = advertiseAddrs.filter((a) => ipFamily(a.host) === 0);
    if (names.length > 0) void this.resolveAdvertised(names);
  }

  stop(): void {
    this.stopped = true;
    this.updateTimer?.cancel();
    this.updateTimer = null;
    this.puncher.stop();
  }

  /** A NebulaMeta from an established tunnel (already decrypted and decoded). */
  handle(host: HostInfo, meta: MetaMessage): void {
    const drop = this.deps.diag.drop.bind(this.deps.diag);
    if (this.isLighthouse(host.vpnIp)) this.lastAnswerAt.set(host.vpnIp, Date.now());
    const extension = this.replyHandlers.get(meta.type);
    if (extension) {
      if (!this.isLighthouse(host.vpnIp)) return drop('lighthouse-reply-not-lighthouse', host.remote);
      return extension(host, meta.details);
    }
    switch (meta.type) {
      case MetaType.HostQueryReply:
        if (!this.isLighthouse(host.vpnIp)) return drop('lighthouse-reply-not-lighthouse', host.remote);
        return this.takeAnswer(host.vpnIp, meta.details);
      case MetaType.HostPunchNotification:
        if (!this.isLighthouse(host.vpnIp)) return drop('lighthouse-punch-not-lighthouse', host.remote);
        return this.puncher.onNotification(meta.details);
      case MetaType.HostMovedNotification:
      case MetaType.HostUpdateNotificationAck:
        return; // no-op in 1.6; the ack comes from 1.7+ lighthouses
      default:
        drop('lighthouse-unexpected', host.remote);
    }
  }

  onHandshakeStart(host: HostInfo): void {
    this.query(host.vpnIp);
  }

  /** Each retry asks again while we know at most one address (Nebula's rule). */
  onHandshakeAttempt(host: HostInfo): void {
    if (host.remotes.size <= 1) this.query(host.vpnIp);
  }

  get hasLighthouses(): boolean {
    return this.lighthouses.size > 0;
  }

  /** One NebulaMeta to every lighthouse; the tunnels are made (and the message queued) as needed. */
  sendToLighthouses(type: number, details: MetaDetails): void {
    for (const lighthouse of this.lighthouses) this.sendToLighthouse(lighthouse, type, details);
  }

  /**
   * One NebulaMeta to one of our lighthouses; nothing for another host. The addresses go in the
   * fields of the tunnel's certificate version (of the one we will initiate with while it is not
   * up); a v1 tunnel cannot carry a message about an IPv6 address, which is then not sent.
   */
  sendToLighthouse(lighthouse: VpnAddr, type: number, details: MetaDetails): void {
    if (!this.lighthouses.has(lighthouse)) return;
    const form = this.deps.hostmap.get(lighthouse)?.addrForm ?? this.deps.identity().addrForm;
    if (form === 'v1' && typeof details.vpnIp !== 'number') return this.deps.diag.drop('lighthouse-ipv6-over-v1', null);
    this.deps.sendTo(lighthouse, MessageType.LightHouse, 0, encodeMeta(type, details, form));
  }

  /** HostQuery for `vpnIp` to every lighthouse; nobody asks about a lighthouse itself. */
  query(vpnIp: VpnAddr): void {
    if (this.lighthouses.has(vpnIp)) return;
    this.deps.diag.stats.lighthouseQueries += this.lighthouses.size;
    this.sendToLighthouses(MetaType.HostQuery, { ...emptyMetaDetails(), vpnIp });
  }

  /** HostUpdateNotification to every lighthouse. */
  sendUpdate(): void {
    if (this.stopped || this.lighthouses.size === 0) return;
    this.sendToLighthouses(MetaType.HostUpdateNotification, this.updateDetails());
    this.sendToLighthouses(MetaType.MeshTunnelsReport, this.tunnelReport());
    // Round trips measured now are in the next report.
    this.probeTunnels();
  }

  /** An RTT probe on every established tunnel. */
  probeTunnels(): void {
    for (const host of this.deps.hostmap.hosts()) if (host.established) this.deps.probeRtt(host);
  }

  /** Our tunnels for the lighthouses' map (mesh extension): at most MAX_REPORTED_TUNNELS, and how many there are. */
  tunnelReport(): MetaDetails {
    const tunnels = this.tunnels();
    const meshTunnels = tunnels.slice(0, MAX_REPORTED_TUNNELS);
    const meshNatMapping = NAT_MAPPINGS.indexOf(this.deps.natMapping());
    return { ...emptyMetaDetails(), vpnIp: this.deps.identity().vpnIp, meshTunnels, meshTunnelsTotal: tunnels.length, meshNatMapping };
  }

  /** Every established tunnel, lowest overlay IPs first. */
  tunnels(): MeshTunnel[] {
    const now = this.deps.timers.now();
    // The mesh extension carries IPv4 overlay addresses: tunnels keyed by IPv6 ones are left out.
    const hosts = [...this.deps.hostmap.hosts()].filter((h): h is HostInfo & { vpnIp: number } => h.established && typeof h.vpnIp === 'number').sort((a, b) => a.vpnIp - b.vpnIp);
    return hosts.map((host) => {
      const relay = host.remote ? 0 : (this.deps.relayFor(host.vpnIp) ?? 0);
      return {
        peerIp: host.vpnIp,
        relayIp: typeof relay === 'number' ? relay : 0,
        // 0 means "not measured": a measured round trip is at least 1 µs.
        rttMicros: host.lastRttMs === null ? 0 : Math.max(1, Math.round(host.lastRttMs * 1000)),
        ageSeconds: Math.min(MAX_REPORTED_AGE_SECONDS, Math.max(0, Math.floor((now - host.createdAt) / 1000))),
      };
    });
  }

  /**
   * What we tell the lighthouses about ourselves: advertise_addrs, the STUN-discovered address,
   * then every allowed local interface address, with our listen port.
   */
  updateDetails(): MetaDetails {
    const { lighthouse, relay } = this.deps.settings();
    const { advertiseAddrs, localAllowList } = lighthouse;
    const identity = this.deps.identity();
    const port = this.deps.listenPort();
    const v4: Ip4AndPort[] = [];
    const v6: Ip6AndPort[] = [];
    const add = (address: string, p: number): void => {
      if (p === 0) return;
      const ip = scanIp(address);
      if (ip >= 0) {
        if (ip === 0 || identity.inVpnNetwork(ip) || v4.some((e) => e.ip === ip && e.port === p)) return;
        v4.push({ ip, port: p });
      } else if (ipFamily(address) === 6) {
        const { hi, lo } = ip6ToHiLo(address);
        if (v6.some((e) => e.hi === hi && e.lo === lo && e.port === p)) return;
        v6.push({ hi, lo, port: p });
      }
    };
    for (const a of advertiseAddrs) if (ipFamily(a.host) !== 0) add(a.host, a.port || port);
    for (const a of this.resolvedAdvertised) add(a.address, a.port || port);
    const reflexive = this.deps.reflexive();
    if (reflexive) add(reflexive.address, reflexive.port);
    let local: NodeJS.Dict<NetworkInterfaceInfo[]> = {};
    try {
      local = this.interfaces();
    } catch (err) {
      this.deps.diag.limited('info', 'interfaces', { reason: (err as Error).message }, 'cannot list local interfaces, reporting none');
    }
    for (const [name, addrs] of Object.entries(local)) {
      if (!addrs || !localAllowListAllowsName(localAllowList, name)) continue;
      for (const a of addrs) {
        const address = stripZone(a.address);
        if (a.internal || !reachableFromElsewhere(address) || !allowListAllows(localAllowList, address)) continue;
        add(address, port);
      }
    }
    return { vpnIp: identity.vpnIp, ip4AndPorts: v4, counter: 0, ip6AndPorts: v6, relayVpnIps: relay.amRelay ? [] : [...relay.relays] };
  }

  /**
   * A lighthouse's answer about a host (HostQueryReply, MeshSubnetReply): replaces what this
   * lighthouse told us before, then tries the handshake at once.
   */
  takeAnswer(lighthouse: VpnAddr, details: MetaDetails): void {
    this.deps.diag.stats.lighthouseAnswers++;
    const identity = this.deps.identity();
    const target = details.vpnIp;
    if (identity.vpnAddrs.includes(target) || !identity.inVpnNetworks(target)) {
      this.deps.diag.drop('lighthouse-reply-target', null, `answer about ${formatVpnAddr(target)}`);
      return;
    }
    const addrs: Endpoint[] = [];
    let count = 0;
    for (const e of details.ip4AndPorts) {
      if (count >= MAX_ANSWER_PER_FAMILY) break;
      if (e.ip === 0 || e.port === 0 || identity.inVpnNetwork(e.ip)) continue;
      const to = { address: formatVpnAddr(e.ip), port: e.port };
      if (this.deps.remoteAllowed(target, to)) {
        addrs.push(to);
        count++;
      }
    }
    count = 0;
    for (const e of details.ip6AndPorts) {
      if (count >= MAX_ANSWER_PER_FAMILY) break;
      if (e.port === 0 || (e.hi === 0n && e.lo === 0n)) continue;
      const to = { address: hiLoToIp6(e.hi, e.lo), port: e.port };
      if (this.deps.remoteAllowed(target, to)) {
        addrs.push(to);
        count++;
      }
    }
    const relays = details.relayVpnIps
      .filter((ip) => ip !== target && identity.inVpnNetworks(ip))
      .slice(0, MAX_ANSWER_RELAYS);
    this.deps.hostmap.remotesFor(target).setReported(lighthouse, addrs, relays);
    this.deps.triggerHandshake(target);
  }

  private async resolveAdvertised(names: readonly { host: string; port: number }[]): Promise<void> {
    const resolved: Endpoint[] = [];
    for (const { host, port } of names) {
      try {
        for (const r of await lookup(host, { all: true })) resolved.push({ address: r.address, port });
      } catch (err) {
        this.deps.diag.log.warn({ host, reason: (err as Error).message }, 'lighthouse.advertise_addrs: cannot resolve, not advertised');
      }
    }
    if (this.stopped || resolved.length === 0) return;
    this.resolvedAdvertised = resolved;
    this.sendUpdate();
  }
}

function stripZone(address: string): string {
  const i = address.indexOf('%');
  return i < 0 ? address : address.slice(0, i);
}

/** Loopback (127.0.0.0/8, ::1) and link-local (169.254.0.0/16, fe80::/10) addresses are not. */
function reachableFromElsewhere(address: string): boolean {
  if (ipFamily(address) === 4) return !address.startsWith('127.') && !address.startsWith('169.254.');
  return address !== '::1' && !/^fe[89ab]/i.test(address);
}
