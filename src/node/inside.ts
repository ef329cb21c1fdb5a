import type { OutgoingDatagram } from '../io/udp.js';
import { MessageSubType, MessageType } from '../protocol/header.js';
import type { MeshNode } from './node.js';

function readIp(p: Uint8Array, offset: number): number {
  return ((p[offset]! << 24) | (p[offset + 1]! << 16) | (p[offset + 2]! << 8) | p[offset + 3]!) >>> 0;
}

/**
 * Packets the kernel routed into the TUN device: find the tunnel for the destination, apply the
 * outbound firewall, encrypt, and send the whole batch to the socket in one call.
 */
export function consumeTunPackets(node: MeshNode, packets: Buffer[]): void {
  const out: OutgoingDatagram[] = [];
  const self = node.identity.vpnIp;
  const { dropMulticast, dropLocalBroadcast } = node.config.tun;
  const broadcast = (node.identity.vpnNetwork.ip | ~(0xffffffff << (32 - node.identity.vpnNetwork.bits))) >>> 0;
  for (const packet of packets) {
    if (packet.length < 20 || packet[0]! >> 4 !== 4) {
      node.drop('tun-not-ipv4', null);
      continue;
    }
    const dst = readIp(packet, 16);
    if (dst === self) continue;
    if ((dropMulticast && dst >>> 28 === 0xe) || (dropLocalBroadcast && dst === broadcast)) continue;
    const vpnIp = node.routeFor(dst);
    if (vpnIp === null) {
      // Inside the auto-routed container ranges the owner may just be unknown yet: asked for, held.
      if (!node.subnets.hold(dst, packet)) node.drop('tun-no-route', null);
      continue;
    }
    const host = node.hostmap.get(vpnIp);
    if (!host) {
      // No tunnel yet: queue the packet and handshake; the firewall is applied when it is sent.
      node.handshakes.start(vpnIp).enqueue(MessageType.Message, MessageSubType.None, packet);
      continue;
    }
    const reason = node.firewall.outbound(packet, host.identity!);
    if (reason) {
      node.firewallDrop('outbound', reason, host);
      continue;
    }
    node.sendOn(host, MessageType.Message, MessageSubType.None, packet, out);
  }
  if (out.length > 0) node.udp.send(out);
}
