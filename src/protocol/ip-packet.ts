/**
 * Minimal parsing of inner IPv4 and IPv6 packets for the firewall: the 5-tuple plus Nebula's
 * "fragment" flag, oriented relative to the local node (Nebula's firewall.Packet / newPacket()).
 *
 * Runs per packet; an IPv4 packet allocates nothing when the caller passes a reusable `out` object
 * (an IPv6 one allocates its two bigint addresses).
 */
import { readIp6, type VpnAddr } from '../net/ip.js';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export const IPV4_HEADER_LEN = 20;
export const IPV6_HEADER_LEN = 40;

// IPv6 next-header values the parser walks through (RFC 8200 4, IANA "IPv6 Extension Header Types").
const EXT_HOP_BY_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_ESP = 50;
const EXT_AUTH = 51;
const EXT_NO_NEXT = 59;
const EXT_DEST_OPTS = 60;
const EXT_MOBILITY = 135;
const EXT_HIP = 139;
const EXT_SHIM6 = 140;
const EXT_EXPERIMENT_1 = 253;
const EXT_EXPERIMENT_2 = 254;

export interface FwPacket {
  /** Our side of the flow (destination when incoming, source when outgoing): uint32 IPv4, bigint IPv6. */
  localIp: VpnAddr;
  remoteIp: VpnAddr;
  /** 0 for ICMP, ICMPv6, other port-less protocols and non-first fragments. */
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
 * Parses `data` (a raw IPv4 or IPv6 packet). `incoming` = the packet arrived from a peer (its source
 * is the remote side); otherwise it is leaving this node. Returns `out` filled in (a new object when
 * none is given), or null (drop) when the packet is neither IPv4 nor IPv6 or cannot be parsed: see
 * parseIpv4 and parseIpv6.
 */
export function parseIpPacket(data: Uint8Array, incoming: boolean, out?: FwPacket): FwPacket | null {
  if (data.length === 0) return null;
  const version = data[0]! >> 4;
  if (version === 4) return parseIpv4(data, incoming, out);
  if (version === 6) return parseIpv6(data, incoming, out);
  return null;
}

/**
 * An IPv4 packet; null when it is shorter than 20 bytes, has IHL < 5, or (for a non-ICMP,
 * non-fragment packet) lacks the 4 bytes of ports after the header.
 */
function parseIpv4(data: Uint8Array, incoming: boolean, out?: FwPacket): FwPacket | null {
  if (data.length < IPV4_HEADER_LEN) return null;
  const b0 = data[0]!;
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

  return orient(out ?? emptyFwPacket(), incoming, protocol, fragment, src, dst, srcPort, dstPort);
}

/**
 * An IPv6 packet. The extension-header chain is walked the way Nebula 1.11.1 walks it, failing closed:
 * hop-by-hop, routing, destination options, mobility, HIP, shim6 and the experimental values are
 * skipped by their length byte, AH by its own length rule; a fragment header with a non-zero offset
 * ends the walk as a `fragment` of the protocol it names, a first fragment continues the walk.
 * TCP and UDP need their 4 bytes of ports; ICMPv6, ESP, "no next header" and every other
 * (upper-layer) protocol end the walk without ports, so only `proto: any` rules match the last.
 * Null (drop) when the fixed header or any header of the chain is cut short. Each step moves
 * forward by at least 8 bytes, so a chain cannot loop.
 */
function parseIpv6(data: Uint8Array, incoming: boolean, out?: FwPacket): FwPacket | null {
  const len = data.length;
  if (len < IPV6_HEADER_LEN) return null;
  let next = data[6]!;
  let offset = IPV6_HEADER_LEN;
  let protocol = -1;
  let fragment = false;
  let srcPort = 0;
  let dstPort = 0;
  while (protocol < 0) {
    switch (next) {
      case PROTO_TCP:
      case PROTO_UDP:
        if (len < offset + 4) return null;
        srcPort = (data[offset]! << 8) | data[offset + 1]!;
        dstPort = (data[offset + 2]! << 8) | data[offset + 3]!;
        protocol = next;
        break;
      case EXT_FRAGMENT: {
        if (len < offset + 8) return null;
        const fragmentOffset = ((data[offset + 2]! << 8) | data[offset + 3]!) >> 3;
        if (fragmentOffset !== 0) {
          protocol = data[offset]!;
          fragment = true;
          break;
        }
        next = data[offset]!;
        offset += 8;
        break;
      }
      case EXT_AUTH:
        if (len < offset + 2) return null;
        next = data[offset]!;
        offset += (data[offset + 1]! + 2) << 2;
        break;
      case EXT_HOP_BY_HOP:
      case EXT_ROUTING:
      case EXT_DEST_OPTS:
      case EXT_MOBILITY:
      case EXT_HIP:
      case EXT_SHIM6:
      case EXT_EXPERIMENT_1:
      case EXT_EXPERIMENT_2:
        if (len < offset + 2) return null;
        next = data[offset]!;
        offset += (data[offset + 1]! + 1) << 3;
        break;
      case PROTO_ICMPV6:
      case EXT_ESP:
      case EXT_NO_NEXT:
      default:
        protocol = next;
        break;
    }
  }
  return orient(out ?? emptyFwPacket(), incoming, protocol, fragment, readIp6(data, 8), readIp6(data, 24), srcPort, dstPort);
}

function orient(
  p: FwPacket,
  incoming: boolean,
  protocol: number,
  fragment: boolean,
  src: VpnAddr,
  dst: VpnAddr,
  srcPort: number,
  dstPort: number,
): FwPacket {
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

