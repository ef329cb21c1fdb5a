/**
 * The node's side of the native fast path (native/src/fastpath.cc): it forwards the packets of
 * established, firewall-approved flows on direct tunnels inside the TUN and UDP read callbacks,
 * without entering JS. TypeScript still decides everything: this class installs what the fast
 * path may act on and removes it when JS changes its mind:
 *  - tunnels (direct, established, with the addon's AEADs): index, peer, address, keys, and the
 *    memory JS shares with it (HostInfo.shared: replay window, send counter, traffic counters);
 *  - the overlay addresses routed to each tunnel (only the peer's own, inside our networks;
 *    unsafe routes and container subnets stay with JS routing);
 *  - flows the firewall approved (its conntrack entries, mirrored: ConntrackMirror), with the
 *    rules version they were approved under.
 * What the tables do not cover is handed to JS unchanged, so JS keeps doing handshakes, control
 * messages, roaming, recv_error, drops and their counting.
 */
import type { NativeFastPath } from '../io/native.js';
import type { VpnAddr } from '../net/ip.js';
import type { ConntrackEntry, ConntrackMirror } from './conntrack.js';
import type { Firewall } from './firewall.js';
import type { HostInfo } from './hostmap.js';

/** The addon's FastPath tables as the node drives them (the per-packet steps run in the read callbacks). */
export type FastPathTables = Omit<NativeFastPath, 'inbound' | 'outbound'>;

/** Bytes of an address record (family, then 16 address bytes) and of a flow key, as fastpath.h reads them. */
export const ADDR_RECORD_LEN = 17;
export const FLOW_KEY_LEN = 40;

/** Writes an overlay address record at `at`: family 4 or 6, then the address (IPv4 in the first 4 bytes). */
export function writeAddrRecord(a: VpnAddr, out: Uint8Array, at: number): void {
  out.fill(0, at, at + ADDR_RECORD_LEN);
  writeAddr(a, out, at + 1);
  out[at] = typeof a === 'number' ? 4 : 6;
}

function writeAddr(a: VpnAddr, out: Uint8Array, at: number): void {
  if (typeof a === 'number') {
    out[at] = a >>> 24;
    out[at + 1] = (a >>> 16) & 0xff;
    out[at + 2] = (a >>> 8) & 0xff;
    out[at + 3] = a & 0xff;
    return;
  }
  for (let i = 15; i >= 0; i--) out[at + i] = Number((a >> BigInt(8 * (15 - i))) & 0xffn);
}

/** The flow key of a conntrack entry: family, protocol, local and remote port, 2 zero bytes, local and remote address. */
export function writeFlowKey(e: ConntrackEntry, out: Uint8Array): void {
  out.fill(0, 0, FLOW_KEY_LEN);
  out[0] = typeof e.localIp === 'number' ? 4 : 6;
  out[1] = e.protocol;
  out[2] = e.localPort >>> 8;
  out[3] = e.localPort & 0xff;
  out[4] = e.remotePort >>> 8;
  out[5] = e.remotePort & 0xff;
  writeAddr(e.localIp, out, 8);
  writeAddr(e.remoteIp, out, 24);
}

/** What decides which overlay addresses route straight to a peer (MeshNode). */
export interface FastPathRouting {
  /** True when a packet to `addr` goes to the tunnel keyed by `addr`'s owner without any other routing (routeFor(addr) === addr, not filtered by tun.drop_*). */
  routesDirectly(addr: VpnAddr): boolean;
  /** The tunnel JS would use for `addr`. */
  tunnelFor(addr: VpnAddr): HostInfo | undefined;
  /** Whether `host` is the current, established tunnel to its peer (not a candidate, not replaced). */
  isCurrent(host: HostInfo): boolean;
  /** Our IPv4 overlay networks: datagrams from inside them are dropped by JS. */
  overlayNetworks(): readonly { ip: number; bits: number }[];
}

export class FastPathLink implements ConntrackMirror {
  private readonly key = new Uint8Array(FLOW_KEY_LEN);
  private readonly peer = new Uint8Array(ADDR_RECORD_LEN);
  /** Tunnels installed, by local index. */
  private readonly installed = new Map<number, HostInfo>();
  /** Totals already folded into the node's stats. */
  private folded = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 };

  constructor(
    readonly tables: FastPathTables,
    private readonly routing: FastPathRouting,
  ) {
    this.refreshNetworks();
  }

  /** Installs, updates or removes `host` to match what JS would do with its packets now. */
  syncTunnel(host: HostInfo): void {
    const eligible =
      host.established &&
      host.remote !== null &&
      host.identity !== null &&
      !host.candidate &&
      this.routing.isCurrent(host) &&
      host.encrypt?.native !== undefined &&
      host.decrypt?.native !== undefined;
    if (!eligible) return this.removeTunnel(host);
    const overlay = host.vpnAddrs.filter((a) => this.routing.routesDirectly(a) && this.routing.tunnelFor(a) === host);
    const records = new Uint8Array(overlay.length * ADDR_RECORD_LEN);
    overlay.forEach((a, i) => writeAddrRecord(a, records, i * ADDR_RECORD_LEN));
    writeAddrRecord(host.identity!.vpnIp, this.peer, 0);
    const { address, port } = host.remote!;
    const ok = this.tables.setTunnel(host.localIndex, host.remoteIndex, address, port, this.peer, records, host.encrypt!.native!, host.decrypt!.native!, host.shared);
    if (ok) this.installed.set(host.localIndex, host);
    else this.removeTunnel(host);
  }

  removeTunnel(host: HostInfo): void {
    if (this.installed.get(host.localIndex) !== host) return;
    this.installed.delete(host.localIndex);
    this.tables.removeTunnel(host.localIndex);
  }

  /** The tunnels installed. */
  tunnels(): IterableIterator<HostInfo> {
    return this.installed.values();
  }

  isInstalled(host: HostInfo): boolean {
    return this.installed.get(host.localIndex) === host;
  }

  /** After a reload (networks, routes, firewall): every tunnel re-checked, the new rules version set. */
  resync(firewall: Firewall, hosts: Iterable<HostInfo>): void {
    this.refreshNetworks();
    this.tables.setRulesVersion(firewall.rulesVersion);
    for (const host of [...this.installed.values()]) this.syncTunnel(host);
    for (const host of hosts) this.syncTunnel(host);
  }

  /**
   * The firewall just allowed a packet on `host`: mirror the flow that allowed it when the fast path
   * could forward the flow's next packets. A flow already mirrored under these rules, whose mirrored
   * expiry is at least half a timeout ahead, needs no call.
   */
  approved(host: HostInfo, firewall: Firewall): void {
    const e = firewall.lastAllowed;
    if (e === null || e.fragment || !this.isInstalled(host)) return;
    if (e.mirrored && e.mirroredVersion === e.rulesVersion && e.mirroredExpires >= e.expires - e.timeout / 2) return;
    writeFlowKey(e, this.key);
    writeAddrRecord(e.peerVpnIp, this.peer, 0);
    this.tables.setFlow(this.key, this.peer, e.rulesVersion, e.expires, e.timeout);
    e.mirrored = true;
    e.mirroredVersion = e.rulesVersion;
    e.mirroredExpires = e.expires;
  }

  expiresOf(e: ConntrackEntry): number {
    writeFlowKey(e, this.key);
    return this.tables.flowExpires(this.key);
  }

  removed(e: ConntrackEntry): void {
    writeFlowKey(e, this.key);
    this.tables.removeFlow(this.key);
  }

  /**
   * Adds what the fast path forwarded since the last call to the node's socket counters and to the
   * firewall's conntrack hits (each forwarded packet is one, as on the JS path).
   */
  foldInto(stats: { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; rxByType: number[]; txByType: number[] }, messageType: number, firewall: Firewall): void {
    const t = this.tables.totals();
    const rx = t.rxPackets - this.folded.rxPackets;
    const tx = t.txPackets - this.folded.txPackets;
    stats.rxPackets += rx;
    stats.rxBytes += t.rxBytes - this.folded.rxBytes;
    stats.txPackets += tx;
    stats.txBytes += t.txBytes - this.folded.txBytes;
    stats.rxByType[messageType]! += rx;
    stats.txByType[messageType]! += tx;
    firewall.stats.inbound.allowedByConntrack += rx;
    firewall.stats.outbound.allowedByConntrack += tx;
    this.folded = { rxPackets: t.rxPackets, rxBytes: t.rxBytes, txPackets: t.txPackets, txBytes: t.txBytes };
  }

  /** Removes every tunnel and flow (the node stops). */
  clear(): void {
    this.installed.clear();
    this.tables.clearTunnels();
    this.tables.clearFlows();
  }

  private refreshNetworks(): void {
    const nets = this.routing.overlayNetworks();
    const pairs = new Uint32Array(nets.length * 2);
    nets.forEach((n, i) => {
      const mask = n.bits === 0 ? 0 : (0xffffffff << (32 - n.bits)) >>> 0;
      pairs[2 * i] = (n.ip & mask) >>> 0;
      pairs[2 * i + 1] = mask;
    });
    this.tables.setOverlayNetworks(pairs);
  }
}

