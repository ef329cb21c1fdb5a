import { cidrContains, formatCidr, type Cidr } from '../net/ipv4.js';
import { formatVpnAddr, type VpnAddr } from '../net/ip.js';
import { PrefixTable, withinAny } from '../net/prefix-table.js';
import type { MetaDetails } from '../protocol/messages.js';
import type { Diagnostics } from './diagnostics.js';
import type { HostInfo } from './hostmap.js';
import type { Timer, Timers } from './timers.js';
import { ipv4Cidrs } from '../net/ip.js';
import type { LocalIdentity } from './identity.js';

/** What container subnet routing needs from its node. */
export interface SubnetRouterDeps {
  readonly diag: Diagnostics;
  readonly timers: Timers;
  identity(): Pick<LocalIdentity, 'vpnIp' | 'vpnAddrs' | 'inVpnNetwork' | 'inVpnNetworks'>;
  tunnels(): Iterable<HostInfo>;
  /** Asks the lighthouses which host routes `dst` (MeshSubnetQuery). */
  askLighthouses(dst: number): void;
  /** A lighthouse's answer also says where the owner is, like a HostQueryReply. */
  takeAddresses(lighthouse: VpnAddr, details: MetaDetails): void;
  /** Packets held for an unknown owner go back through the inside path once it is known. */
  resend(packets: Buffer[]): void;
}

/** Packets held per unknown destination, destinations held at once, and how long. */
const HOLD_PACKETS = 16;
const HOLD_DESTINATIONS = 256;
const HOLD_MS = 3000;
const REQUERY_MS = 1000;

interface Held {
  packets: Buffer[];
  since: number;
  queriedAt: number;
}

/**
 * Routes to other hosts' container subnets without per-host unsafe_routes. The node routes whole
 * ranges (the CA's subnets) into the TUN; for a destination inside them it needs the host whose
 * certificate carries the subnet. It learns that from the certificates of its tunnels, and asks
 * its lighthouses (MeshSubnetQuery) for the rest, holding the first packets meanwhile. What a
 * lighthouse says is dropped again when the named host's certificate turns out not to carry it.
 */
export class SubnetRouter {
  private ranges: Cidr[] = [];
  private readonly owners = new PrefixTable<{ vpnIp: VpnAddr; fromCert: boolean }>();
  private readonly held = new Map<number, Held>();
  private sweeper: Timer | null = null;

  constructor(private readonly deps: SubnetRouterDeps) {}

  /** The ranges routed into the mesh this way (empty: off). */
  setRanges(ranges: readonly Cidr[]): void {
    this.ranges = [...ranges];
    for (const host of this.deps.tunnels()) this.onTunnelUp(host);
  }

  get active(): boolean {
    return this.ranges.length > 0;
  }

  /** The overlay IP of the host routing `dst`, if known. */
  ownerOf(dst: number): VpnAddr | null {
    if (!this.active || !this.ranges.some((r) => cidrContains(r, dst))) return null;
    return this.owners.lookup(dst)?.vpnIp ?? null;
  }

  /** Keeps a packet for an unknown destination inside the ranges and asks the lighthouses; false outside them. */
  hold(dst: number, packet: Buffer): boolean {
    if (!this.active || !this.ranges.some((r) => cidrContains(r, dst))) return false;
    const now = this.deps.timers.now();
    let held = this.held.get(dst);
    if (!held) {
      if (this.held.size >= HOLD_DESTINATIONS) return false;
      held = { packets: [], since: now, queriedAt: 0 };
      this.held.set(dst, held);
      this.armSweeper();
    }
    if (held.packets.length < HOLD_PACKETS) held.packets.push(Buffer.from(packet));
    if (now - held.queriedAt >= REQUERY_MS) {
      held.queriedAt = now;
      this.query(dst);
    }
    return true;
  }

  onTunnelUp(host: HostInfo): void {
    const subnets = ipv4Cidrs(host.cert?.details.unsafeNetworks ?? []);
    // Drop what a lighthouse claimed for this host but its certificate does not carry.
    this.owners.deleteWhere((v, cidr) => v.vpnIp === host.vpnIp && !v.fromCert && !subnets.some((s) => s.bits <= cidr.bits && cidrContains(s, cidr.ip)));
    for (const s of subnets) if (withinAny(this.ranges, s)) this.owners.set(s, { vpnIp: host.vpnIp, fromCert: true });
    this.release();
  }

  /** MeshSubnetReply from a lighthouse: owner, its subnets and where it is. */
  handleReply(lighthouse: HostInfo, details: MetaDetails): void {
    const owner = details.vpnIp;
    const identity = this.deps.identity();
    if (!identity.inVpnNetworks(owner) || identity.vpnAddrs.includes(owner)) return;
    for (const s of details.meshSubnets ?? []) {
      const cidr = { ip: s.ip, bits: s.bits };
      if (!withinAny(this.ranges, cidr)) continue;
      if (this.owners.lookup(s.ip)?.fromCert) continue;
      this.owners.set(cidr, { vpnIp: owner, fromCert: false });
      this.deps.diag.log.debug({ subnet: formatCidr(cidr), owner: formatVpnAddr(owner) }, 'container subnet owner learned from a lighthouse');
    }
    this.deps.takeAddresses(lighthouse.vpnIp, details);
    this.release();
  }

  stop(): void {
    this.sweeper?.cancel();
    this.sweeper = null;
    this.held.clear();
  }

  private query(dst: number): void {
    this.deps.askLighthouses(dst);
  }

  /** Sends what was held for destinations whose owner is now known. */
  private release(): void {
    const ready: Buffer[] = [];
    for (const [dst, held] of this.held) {
      if (this.owners.lookup(dst) === undefined) continue;
      ready.push(...held.packets);
      this.held.delete(dst);
    }
    if (ready.length > 0) this.deps.resend(ready);
  }

  private armSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = this.deps.timers.every(500, () => {
      const now = this.deps.timers.now();
      for (const [dst, held] of this.held) {
        if (now - held.since < HOLD_MS) continue;
        this.held.delete(dst);
        this.deps.diag.drop('subnet-unknown', null, `no host routes ${formatVpnAddr(dst)}`);
      }
      if (this.held.size === 0 && this.sweeper) {
        this.sweeper.cancel();
        this.sweeper = null;
      }
    });
  }
}
