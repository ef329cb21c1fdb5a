import { cidrContains, networkOf } from '../src/net/ipv4.js';
import { PrefixTable } from '../src/net/prefix-table.js';
import {
  emptyMetaDetails,
  MAX_REPORTED_TUNNELS,
  MetaType,
  NAT_MAPPINGS,
  type MeshName,
  type MeshTunnel,
  type MetaDetails,
  type MetaMessage,
  type NatMapping,
} from '../src/protocol/messages.js';
import type { HostInfo } from '../src/node/hostmap.js';

/** Names kept per host, and hosts per name: bounds what one host can make the lighthouse hold. */
const MAX_NAMES_PER_HOST = 256;
const MAX_IPS_PER_NAME = 8;
const MAX_NAME_LENGTH = 63;

/** The latest MeshTunnelsReport of a host, for the map. */
export interface TunnelReport {
  tunnels: MeshTunnel[];
  /** Tunnels the host has, including those its report left out. */
  total: number;
  natMapping: NatMapping;
  /** When it arrived (ms since the epoch). */
  at: number;
}

export type Reply = (type: number, details: MetaDetails) => void;

/**
 * The lighthouse's part of the mesh extensions: which host routes which container subnet (from
 * the certificates of the hosts it has tunnels with, so no host can claim another's containers),
 * and the container names each host publishes (only addresses inside that host's own subnets are
 * kept). Soft state like the address book: rebuilt from tunnels and updates after a restart.
 */
export class MeshDirectory {
  private readonly subnets = new PrefixTable<number>();
  private readonly namesByHost = new Map<number, MeshName[]>();
  private readonly hostsByName = new Map<string, Set<number>>();
  /** Certificate names of the connected hosts (lighthouse.serve_dns), lower case. */
  private readonly byCertName = new Map<string, number>();
  private readonly reports = new Map<number, TunnelReport>();

  /** `changed` hears of every host whose names or tunnel report changed (the map's live updates). */
  constructor(private readonly changed: (vpnIp: number) => void = () => {}) {}

  onTunnelUp(host: HostInfo): void {
    for (const s of host.cert?.details.subnets ?? []) this.subnets.set(s, host.vpnIp);
    if (host.cert) this.byCertName.set(host.cert.details.name.toLowerCase(), host.vpnIp);
  }

  onTunnelGone(host: HostInfo): void {
    this.subnets.deleteWhere((vpnIp) => vpnIp === host.vpnIp);
    this.setNames(host.vpnIp, []);
    this.reports.delete(host.vpnIp);
    const name = host.cert?.details.name.toLowerCase();
    if (name !== undefined && this.byCertName.get(name) === host.vpnIp) this.byCertName.delete(name);
  }

  /** The overlay IP of the connected host whose certificate has this name (lower case). */
  hostNamed(name: string): number | undefined {
    return this.byCertName.get(name);
  }

  /**
   * Handles a mesh extension message; false for anything else. `answerOf` gives what the address
   * book would answer about a host, so one reply is enough to start a handshake.
   */
  handle(host: HostInfo, meta: MetaMessage, reply: Reply, answerOf: (vpnIp: number) => Pick<MetaDetails, 'ip4AndPorts' | 'ip6AndPorts' | 'relayVpnIps'>): boolean {
    switch (meta.type) {
      case MetaType.MeshSubnetQuery: {
        const owner = this.subnets.lookup(meta.details.vpnIp);
        if (owner === undefined || owner === host.vpnIp) return true; // unknown: silence, as for HostQuery
        const subnets = this.subnetsOf(owner);
        reply(MetaType.MeshSubnetReply, { ...emptyMetaDetails(), vpnIp: owner, ...answerOf(owner), meshSubnets: subnets });
        return true;
      }
      case MetaType.MeshNamesUpdate: {
        if (meta.details.vpnIp !== host.vpnIp) return true; // a host speaks only for itself
        const own = host.cert?.details.subnets ?? [];
        const names = (meta.details.meshNames ?? [])
          .filter((n) => n.name.length > 0 && n.name.length <= MAX_NAME_LENGTH)
          .map((n) => ({ name: n.name.toLowerCase(), ips: n.ips.filter((ip) => own.some((s) => cidrContains(s, ip))).slice(0, MAX_IPS_PER_NAME) }))
          .filter((n) => n.ips.length > 0)
          .slice(0, MAX_NAMES_PER_HOST);
        this.setNames(host.vpnIp, names);
        this.changed(host.vpnIp);
        return true;
      }
      case MetaType.MeshTunnelsReport: {
        if (meta.details.vpnIp !== host.vpnIp) return true;
        const tunnels: MeshTunnel[] = [];
        for (const t of meta.details.meshTunnels ?? []) {
          if (tunnels.length >= MAX_REPORTED_TUNNELS) break;
          if (t.peerIp === 0 || t.peerIp === host.vpnIp || t.relayIp === t.peerIp || tunnels.some((k) => k.peerIp === t.peerIp)) continue;
          tunnels.push({ peerIp: t.peerIp, relayIp: t.relayIp, rttMicros: t.rttMicros, ageSeconds: t.ageSeconds });
        }
        const natMapping = NAT_MAPPINGS[meta.details.meshNatMapping ?? 0] ?? 'unknown';
        this.reports.set(host.vpnIp, { tunnels, total: Math.max(tunnels.length, meta.details.meshTunnelsTotal ?? 0), natMapping, at: Date.now() });
        this.changed(host.vpnIp);
        return true;
      }
      case MetaType.MeshNameQuery: {
        const name = meta.details.meshNames?.[0]?.name.toLowerCase();
        if (!name) return true;
        const ips: number[] = [];
        for (const owner of this.hostsByName.get(name) ?? []) {
          for (const n of this.namesByHost.get(owner) ?? []) if (n.name === name) ips.push(...n.ips);
        }
        reply(MetaType.MeshNameReply, { ...emptyMetaDetails(), meshNames: [{ name, ips }] });
        return true;
      }
      default:
        return false;
    }
  }

  /** The container names a host publishes. */
  namesOf(vpnIp: number): readonly MeshName[] {
    return this.namesByHost.get(vpnIp) ?? [];
  }

  /** The latest tunnel report of a connected host. */
  reportOf(vpnIp: number): TunnelReport | undefined {
    return this.reports.get(vpnIp);
  }

  get names(): number {
    return this.hostsByName.size;
  }

  private subnetsOf(vpnIp: number): { ip: number; bits: number }[] {
    return this.subnets.entries().filter(([, v]) => v === vpnIp).map(([c]) => ({ ip: networkOf(c), bits: c.bits }));
  }

  private setNames(vpnIp: number, names: MeshName[]): void {
    for (const old of this.namesByHost.get(vpnIp) ?? []) {
      const hosts = this.hostsByName.get(old.name);
      hosts?.delete(vpnIp);
      if (hosts?.size === 0) this.hostsByName.delete(old.name);
    }
    if (names.length === 0) {
      this.namesByHost.delete(vpnIp);
      return;
    }
    this.namesByHost.set(vpnIp, names);
    for (const n of names) {
      let hosts = this.hostsByName.get(n.name);
      if (!hosts) this.hostsByName.set(n.name, (hosts = new Set()));
      hosts.add(vpnIp);
    }
  }
}
