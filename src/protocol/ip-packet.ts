/**
 * Minimal parsing of inner IPv4 packets for the firewall: the 5-tuple plus Nebula's "fragment" flag,
 * oriented relative to the local node (Nebula's firewall.Packet / newPacket()).
 *
 * Runs per packet, so it allocates nothing when the caller passes a reusable `out` object.
 */

export const PROTO_ANY = 0;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export const IPV4_HEADER_LEN = 20;

export interface FwPacket {
  /** Our side of the flow (destination when incoming, source when outgoing), uint32. */
  localIp: number;
  remoteIp: number;
  /** 0 for ICMP and for non-first fragments. */
  localPort: number;
  remotePort: number;
  /** IP protocol number (6 tcp, 17 udp, 1 icmp, ...). */
  protocol: number;
  /** True for the second and later fragments of a fragmented datagram (fragment offset != 0). */
  fragment: boolean;
}

export function emptyFwPacket(): FwPacket {
  return { localIp: 0, remoteIp: 0, localPort: 0, remotePort: 0, protocol: 0, fragment: false };
}

/**
 * Parses `data` (a raw IPv4 packet). `incoming` = the packet arrived from a peer (its source is the
 * remote side); otherwise it is leaving this node. Returns `out` filled in (a new object when none is
 * given), or null when the packet is not IPv4, shorter than 20 bytes, has IHL < 5, or (for a
 * non-ICMP, non-fragment packet) lacks the 4 bytes of ports after the header.
 */
export function parseIpPacket(data: Uint8Array, incoming: boolean, out?: FwPacket): FwPacket | null {
  if (data.length < IPV4_HEADER_LEN) return null;
  const b0 = data[0]!;
  if (b0 >> 4 !== 4) return null;
  const ihl = (b0 & 0x0f) << 2;
  if (ihl < IPV4_HEADER_LEN) return null;
  const fragment = (((data[6]! << 8) | data[7]!) & 0x1fff) !== 0;
  const protocol = data[9]!;
  const noPorts = fragment || protocol === PROTO_ICMP;
  if (data.length < (noPorts ? ihl : ihl + 4)) return null;

  const src = ((data[12]! << 24) | (data[13]! << 16) | (data[14]! << 8) | data[15]!) >>> 0;
  const dst = ((data[16]! << 24) | (data[17]! << 16) | (data[18]! << 8) | data[19]!) >>> 0;
  let srcPort = 0;
  let dstPort = 0;
  if (!noPorts) {
    srcPort = (data[ihl]! << 8) | data[ihl + 1]!;
    dstPort = (data[ihl + 2]! << 8) | data[ihl + 3]!;
  }

  const p = out ?? emptyFwPacket();
  p.protocol = protocol;
  p.fragment = fragment;
  if (incoming) {
    p.remoteIp = src;
    p.localIp = dst;
    p.remotePort = srcPort;
    p.localPort = dstPort;
  } else {
    p.localIp = src;
    p.remoteIp = dst;
    p.localPort = srcPort;
    p.remotePort = dstPort;
  }
  return p;
}

/** Source and destination addresses without any validation beyond the length; -1 when too short. */
export function ipv4Destination(data: Uint8Array): number {
  if (data.length < IPV4_HEADER_LEN) return -1;
  return ((data[16]! << 24) | (data[17]! << 16) | (data[18]! << 8) | data[19]!) >>> 0;
}

export function ipv4Source(data: Uint8Array): number {
  if (data.length < IPV4_HEADER_LEN) return -1;
  return ((data[12]! << 24) | (data[13]! << 16) | (data[14]! << 8) | data[15]!) >>> 0;
}

export function protocolName(protocol: number): string {
  switch (protocol) {
    case PROTO_TCP:
      return 'tcp';
    case PROTO_UDP:
      return 'udp';
    case PROTO_ICMP:
      return 'icmp';
    default:
      return `proto ${protocol}`;
  }
}
