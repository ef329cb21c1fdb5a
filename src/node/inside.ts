import type { OutgoingDatagram } from '../io/udp.js';
import { readIp6, type VpnAddr } from '../net/ip.js';
import { TAG_LEN } from '../protocol/aead.js';
import { HEADER_LEN, MessageSubType, MessageType } from '../protocol/header.js';
import type { Diagnostics } from './diagnostics.js';
import type { Firewall } from './firewall.js';
import type { HostInfo, HostMap } from './hostmap.js';

/** What the inside path (TUN → tunnels → socket) needs from its node. */
export interface InsideNode {
  readonly diag: Diagnostics;
  readonly hostmap: HostMap;
  readonly firewall: Pick<Firewall, 'outbound'>;
  /** Our overlay addresses and what tun.drop_* discard. */
  insideFilter(): InsideFilter;
  /** Which overlay address a destination is reached through; null when unknown. */
  routeFor(dst: VpnAddr): VpnAddr | null;
  /** Holds a packet whose container-subnet owner is being looked up; false outside those ranges. */
  holdForOwner(dst: VpnAddr, packet: Buffer): boolean;
  startHandshake(vpnIp: VpnAddr): HostInfo;
  sendOn(host: HostInfo, type: number, subtype: number, payload: Uint8Array, out: OutgoingDatagram[]): void;
  /**
   * Sends data packets of one TUN batch (one ArrayBuffer, TUN_HEADROOM free bytes around each) on
   * a tunnel with an address: sealed in place with one AEAD call, queued on `out`.
   */
  sendInPlace(host: HostInfo, packets: Buffer[], out: OutgoingDatagram[]): void;
  sendDatagrams(out: OutgoingDatagram[]): void;
  /** The firewall allowed a packet on `host`: the fast path may take the flow's next ones. */
  flowApproved?(host: HostInfo): void;
}

export interface InsideFilter {
  /** Our first IPv4 overlay address (0 when we have none) and its network's broadcast address. */
  self: number;
  broadcast: number;
  /** Our IPv6 overlay addresses. */
  self6: ReadonlySet<bigint>;
  dropMulticast: boolean;
  dropLocalBroadcast: boolean;
}

/** Room a packet needs around it to be sealed in place: the header before it, the tag after. */
const SEAL_ROOM = Math.max(HEADER_LEN, TAG_LEN);

function readIp(p: Uint8Array, offset: number): number {
  return ((p[offset]! << 24) | (p[offset + 1]! << 16) | (p[offset + 2]! << 8) | p[offset + 3]!) >>> 0;
}

/**
 * Packets the kernel routed into the TUN device: find the tunnel for the destination, apply the
 * outbound firewall, encrypt, and send the whole batch to the socket in one call. With `headroom`
 * (free bytes around each packet, all in one buffer, as TUN reads deliver them) the packets of
 * each directly reachable tunnel are sealed in place with one AEAD call.
 */
export function consumeTunPackets(node: InsideNode, packets: Buffer[], headroom = 0): void {
  const out: OutgoingDatagram[] = [];
  const inPlace = headroom >= SEAL_ROOM ? new Map<HostInfo, Buffer[]>() : null;
  const { self, broadcast, self6, dropMulticast, dropLocalBroadcast } = node.insideFilter();
  for (const packet of packets) {
    const version = packet.length === 0 ? 0 : packet[0]! >> 4;
    let dst: VpnAddr;
    if (version === 4 && packet.length >= 20) {
      dst = readIp(packet, 16);
      if (dst === self) continue;
      if ((dropMulticast && dst >>> 28 === 0xe) || (dropLocalBroadcast && dst === broadcast)) continue;
    } else if (version === 6 && packet.length >= 40) {
      dst = readIp6(packet, 24);
      if (self6.has(dst)) continue;
      // ff00::/8; the kernel's own neighbour and router solicitations land here too.
      if (dropMulticast && packet[24] === 0xff) continue;
    } else {
      node.diag.drop('tun-not-ip', null);
      continue;
    }
    const vpnIp = node.routeFor(dst);
    if (vpnIp === null) {
      // Inside the auto-routed container ranges the owner may just be unknown yet: asked for, held.
      if (!node.holdForOwner(dst, packet)) node.diag.drop('tun-no-route', null);
      continue;
    }
    const host = node.hostmap.get(vpnIp);
    if (!host) {
      // No tunnel yet: queue the packet and handshake; the firewall is applied when it is sent.
      node.startHandshake(vpnIp).enqueue(MessageType.Message, MessageSubType.None, packet);
      continue;
    }
    const reason = node.firewall.outbound(packet, host.identity!);
    if (reason) {
      node.diag.firewallDrop('outbound', reason, host.vpnIp);
      continue;
    }
    node.flowApproved?.(host);
    if (inPlace && host.remote) {
      const group = inPlace.get(host);
      if (group) group.push(packet);
      else inPlace.set(host, [packet]);
    } else {
      node.sendOn(host, MessageType.Message, MessageSubType.None, packet, out);
    }
  }
  if (inPlace) for (const [host, group] of inPlace) node.sendInPlace(host, group, out);
  if (out.length > 0) node.sendDatagrams(out);
}
