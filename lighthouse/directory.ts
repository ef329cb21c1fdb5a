import { cidrContains, networkOf } from '../src/net/ipv4.js';
import { PrefixTable } from '../src/net/prefix-table.js';
import {
  emptyMetaDetails,
  MAX_MESH_NAME_IPS,
  MAX_MESH_NAME_LENGTH,
  MAX_REPORTED_TUNNELS,
  MetaType,
  NAT_MAPPINGS,
  type MeshName,
  type MeshNameTable,
  type MeshTunnel,
  type MetaDetails,
  type MetaMessage,
  type NatMapping,
} from '../src/protocol/messages.js';
import type { HostInfo } from '../src/node/hostmap.js';
import type { VpnAddr } from '../src/net/ip.js';
import { ipv4Cidrs } from '../src/net/ip.js';

/** Names kept per host and chunks per snapshot (with the name bounds of messages.ts): bound what one host can make the lighthouse hold. */
const MAX_NAMES_PER_HOST = 4096;
const MAX_SNAPSHOT_CHUNKS = 1024;
/** Addresses in one MeshNameReply: it must fit one datagram. */
const MAX_ANSWER_IPS = 200;
/** At most one MeshNamesResync per host in this time. */
const RESYNC_INTERVAL_MS = 1000;

/** What the lighthouse holds of one host's name table, and how far it is in step with it. */
interface HostNames {
  names: Map<string, number[]>;
  epoch: number;
  /** The version this copy is complete up to (-1: not in step). */
  version: number;
  /** The highest version applied: older deltas arriving late are stale. */
  latest: number;
  /** Chunks received of the delta at version + 1. */
  nextDelta: { version: number; got: Set<number> } | null;
  /** A snapshot being collected. */
  snapshot: { epoch: number; version: number; chunks: number; got: Set<number>; names: Map<string, number[]> } | null;
  lastResync: number;
}

export type Reply = (type: number, details: MetaDetails) => void;

/** The latest MeshTunnelsReport of a host, for the map. */
export interface TunnelReport {
  tunnels: MeshTunnel[];
  /** Tunnels the host has, including those its report left out. */
  total: number;
  natMapping: NatMapping;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/**
 * The lighthouse's part of the mesh extensions: which host routes which container subnet (from
 * the certificates of the hosts it has tunnels with, so no host can claim another's containers),
 * and the container and service names each host publishes (only addresses inside that host's own
 * subnets are kept). A host's name table arrives as a snapshot in chunks, then as deltas; the
 * lighthouse tracks the table's epoch and version and asks for a new snapshot (MeshNamesResync)
 * when a delta shows a gap or a periodic check names a version it does not hold. Soft state like
 * the address book: rebuilt from tunnels and those checks after a restart.
 */
export class MeshDirectory {
  private readonly subnets = new PrefixTable<VpnAddr>();
  private readonly namesByHost = new Map<VpnAddr, HostNames>();
  private readonly hostsByName = new Map<string, Set<VpnAddr>>();
  /** Certificate names of the connected hosts (lighthouse.serve_dns), lower case. */
  private readonly byCertName = new Map<string, HostInfo>();
  private readonly reports = new Map<VpnAddr, TunnelReport>();

  /** `changed` hears of every host whose names or tunnel report changed (the map's live updates). */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly changed: (vpnIp: VpnAddr) => void = () => {},
  ) {}

  onTunnelUp(host: HostInfo): void {
    for (const s of ipv4Cidrs(host.cert?.details.unsafeNetworks ?? [])) this.subnets.set(s, host.vpnIp);
    if (host.cert) this.byCertName.set(host.cert.details.name.toLowerCase(), host);
  }

  onTunnelGone(host: HostInfo): void {
    this.subnets.deleteWhere((vpnIp) => vpnIp === host.vpnIp);
    this.dropNames(host.vpnIp);
    this.reports.delete(host.vpnIp);
    const name = host.cert?.details.name.toLowerCase();
    if (name !== undefined && this.byCertName.get(name)?.vpnIp === host.vpnIp) this.byCertName.delete(name);
  }

  /** The overlay addresses (IPv4 and IPv6) of the connected host whose certificate has this name (lower case). */
  hostNamed(name: string): readonly VpnAddr[] | undefined {
    return this.byCertName.get(name)?.vpnAddrs;
  }

  /**
   * Handles a mesh extension message; false for anything else. `answerOf` gives what the address
   * book would answer about a host, so one reply is enough to start a handshake.
   */
  handle(host: HostInfo, meta: MetaMessage, reply: Reply, answerOf: (vpnIp: VpnAddr) => Pick<MetaDetails, 'ip4AndPorts' | 'ip6AndPorts' | 'relayVpnIps'>): boolean {
    switch (meta.type) {
      case MetaType.MeshSubnetQuery: {
        const dst = meta.details.vpnIp;
        // Container subnets are IPv4 (the mesh extension carries IPv4 prefixes).
        const owner = typeof dst === 'number' ? this.subnets.lookup(dst) : undefined;
        if (owner === undefined || owner === host.vpnIp) return true; // unknown: silence, as for HostQuery
        const subnets = this.subnetsOf(owner);
        reply(MetaType.MeshSubnetReply, { ...emptyMetaDetails(), vpnIp: owner, ...answerOf(owner), meshSubnets: subnets });
        return true;
      }
      case MetaType.MeshNamesDelta:
      case MetaType.MeshNamesSnapshot:
      case MetaType.MeshNamesCheck: {
        const table = meta.details.meshNameTable;
        if (meta.details.vpnIp !== host.vpnIp || !table) return true; // a host speaks only for itself
        const inStep = meta.type === MetaType.MeshNamesDelta ? this.takeDelta(host, table, meta.details.meshNames ?? [])
          : meta.type === MetaType.MeshNamesSnapshot ? this.takeSnapshot(host, table, meta.details.meshNames ?? [])
          : this.isInStep(host.vpnIp, table);
        if (!inStep) this.askResync(host.vpnIp, reply);
        if (meta.type !== MetaType.MeshNamesCheck) this.changed(host.vpnIp);
        return true;
      }
      case MetaType.MeshTunnelsReport: {
        if (meta.details.vpnIp !== host.vpnIp) return true;
        const tunnels: MeshTunnel[] = [];
        for (const t of meta.details.meshTunnels ?? []) {
          if (tunnels.length >= MAX_REPORTED_TUNNELS) break;
          if (t.peerIp === 0 || host.vpnAddrs.includes(t.peerIp) || t.relayIp === t.peerIp || tunnels.some((k) => k.peerIp === t.peerIp)) continue;
          tunnels.push({ peerIp: t.peerIp, relayIp: t.relayIp, rttMicros: t.rttMicros, ageSeconds: t.ageSeconds });
        }
        const natMapping = NAT_MAPPINGS[meta.details.meshNatMapping ?? 0] ?? 'unknown';
        this.reports.set(host.vpnIp, { tunnels, total: Math.max(tunnels.length, meta.details.meshTunnelsTotal ?? 0), natMapping, at: this.now() });
        this.changed(host.vpnIp);
        return true;
      }
      case MetaType.MeshNameQuery: {
        const name = meta.details.meshNames?.[0]?.name.toLowerCase();
        if (!name) return true;
        const ips: number[] = [];
        for (const owner of this.hostsByName.get(name) ?? []) ips.push(...(this.namesByHost.get(owner)?.names.get(name) ?? []));
        reply(MetaType.MeshNameReply, { ...emptyMetaDetails(), meshNames: [{ name, ips: sample(ips, MAX_ANSWER_IPS) }] });
        return true;
      }
      default:
        return false;
    }
  }

  get names(): number {
    return this.hostsByName.size;
  }

  /** The container and service names a host publishes. */
  namesOf(vpnIp: VpnAddr): readonly MeshName[] {
    return [...(this.namesByHost.get(vpnIp)?.names ?? [])].map(([name, ips]) => ({ name, ips }));
  }

  /** The latest tunnel report of a connected host. */
  reportOf(vpnIp: VpnAddr): TunnelReport | undefined {
    return this.reports.get(vpnIp);
  }

  private subnetsOf(vpnIp: VpnAddr): { ip: number; bits: number }[] {
    return this.subnets.entries().filter(([, v]) => v === vpnIp).map(([c]) => ({ ip: networkOf(c), bits: c.bits }));
  }

  /** Names from a host, kept only with addresses inside the host's own subnets; an empty list removes the name. */
  private cleanNames(host: HostInfo, names: readonly MeshName[]): MeshName[] {
    const own = ipv4Cidrs(host.cert?.details.unsafeNetworks ?? []);
    return names
      .filter((n) => n.name.length > 0 && n.name.length <= MAX_MESH_NAME_LENGTH)
      .map((n) => ({ name: n.name.toLowerCase(), ips: n.ips.filter((ip) => own.some((s) => cidrContains(s, ip))).slice(0, MAX_MESH_NAME_IPS) }));
  }

  private stateOf(vpnIp: VpnAddr, epoch: number): HostNames {
    let state = this.namesByHost.get(vpnIp);
    if (!state) {
      state = { names: new Map(), epoch, version: -1, latest: -1, nextDelta: null, snapshot: null, lastResync: -Infinity };
      this.namesByHost.set(vpnIp, state);
    } else if (state.epoch !== epoch && state.snapshot?.epoch !== epoch) {
      // The host restarted: what we hold is from its previous life; keep serving it until its snapshot arrives.
      Object.assign(state, { epoch, version: -1, latest: -1, nextDelta: null });
    }
    return state;
  }

  /** Applies one delta chunk; false when the copy is not in step with the host (a chunk went missing). */
  private takeDelta(host: HostInfo, table: MeshNameTable, names: readonly MeshName[]): boolean {
    const state = this.stateOf(host.vpnIp, table.epoch);
    if (state.epoch !== table.epoch) return false; // a snapshot of the new epoch is on its way
    if (table.version < state.latest) return state.version >= 0; // stale: a newer change is applied already
    state.latest = table.version;
    for (const n of this.cleanNames(host, names)) this.setName(host.vpnIp, state, n.name, n.ips);
    if (state.version < 0) return false;
    if (table.version === state.version + 1) {
      if (state.nextDelta?.version !== table.version) state.nextDelta = { version: table.version, got: new Set() };
      state.nextDelta.got.add(table.chunk);
      if (state.nextDelta.got.size >= table.chunks) {
        state.version = table.version;
        state.nextDelta = null;
      }
      return true;
    }
    if (table.version === state.version) return true; // a repeated chunk
    state.version = -1;
    return false;
  }

  /** Collects one snapshot chunk; the whole snapshot replaces the host's names. */
  private takeSnapshot(host: HostInfo, table: MeshNameTable, names: readonly MeshName[]): boolean {
    if (table.chunks === 0 || table.chunks > MAX_SNAPSHOT_CHUNKS || table.chunk >= table.chunks) return true; // malformed: ignored
    const state = this.stateOf(host.vpnIp, table.epoch);
    let snapshot = state.snapshot;
    if (!snapshot || snapshot.epoch !== table.epoch || snapshot.version !== table.version || snapshot.chunks !== table.chunks) {
      snapshot = state.snapshot = { epoch: table.epoch, version: table.version, chunks: table.chunks, got: new Set(), names: new Map() };
    }
    if (!snapshot.got.has(table.chunk)) {
      snapshot.got.add(table.chunk);
      for (const n of this.cleanNames(host, names)) {
        if (n.ips.length > 0 && (snapshot.names.size < MAX_NAMES_PER_HOST || snapshot.names.has(n.name))) snapshot.names.set(n.name, n.ips);
      }
    }
    if (snapshot.got.size < snapshot.chunks) return true;
    state.snapshot = null;
    for (const name of [...state.names.keys()]) if (!snapshot.names.has(name)) this.setName(host.vpnIp, state, name, []);
    for (const [name, ips] of snapshot.names) this.setName(host.vpnIp, state, name, ips);
    Object.assign(state, { epoch: snapshot.epoch, version: snapshot.version, latest: snapshot.version, nextDelta: null });
    return true;
  }

  private isInStep(vpnIp: VpnAddr, table: MeshNameTable): boolean {
    const state = this.namesByHost.get(vpnIp);
    return state !== undefined && state.epoch === table.epoch && state.version === table.version;
  }

  private askResync(vpnIp: VpnAddr, reply: Reply): void {
    const state = this.namesByHost.get(vpnIp);
    const now = this.now();
    if (state) {
      if (now - state.lastResync < RESYNC_INTERVAL_MS) return;
      state.lastResync = now;
    }
    reply(MetaType.MeshNamesResync, { ...emptyMetaDetails(), vpnIp });
  }

  private setName(vpnIp: VpnAddr, state: HostNames, name: string, ips: number[]): void {
    if (ips.length === 0) {
      if (!state.names.delete(name)) return;
      const hosts = this.hostsByName.get(name);
      hosts?.delete(vpnIp);
      if (hosts?.size === 0) this.hostsByName.delete(name);
      return;
    }
    if (!state.names.has(name) && state.names.size >= MAX_NAMES_PER_HOST) return;
    state.names.set(name, ips);
    let hosts = this.hostsByName.get(name);
    if (!hosts) this.hostsByName.set(name, (hosts = new Set()));
    hosts.add(vpnIp);
  }

  private dropNames(vpnIp: VpnAddr): void {
    const state = this.namesByHost.get(vpnIp);
    if (!state) return;
    for (const name of [...state.names.keys()]) this.setName(vpnIp, state, name, []);
    this.namesByHost.delete(vpnIp);
  }
}

/** At most `max` of the addresses, a random choice when there are more. */
function sample(ips: number[], max: number): number[] {
  if (ips.length <= max) return ips;
  for (let i = ips.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [ips[i], ips[j]] = [ips[j]!, ips[i]!];
  }
  return ips.slice(0, max);
}
