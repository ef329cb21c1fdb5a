/**
 * What `mesh status` reports about a running node: identity, certificate, lighthouses, relays, one
 * entry per tunnel with its path and traffic, pending handshakes. The shape is the documented,
 * stable `mesh status --json` (README "mesh status"); a lighthouse and the Docker shim add their own
 * sections through the control server's status hook.
 */
import { endpointKey } from '../net/endpoint.js';
import { formatCidr, parseIp } from '../net/ipv4.js';
import { compareVpnAddr, formatVpnAddr, parseVpnAddr, type VpnAddr } from '../net/ip.js';
import { UserError } from '../errors.js';
import type { HostInfo } from './hostmap.js';
import type { KernelDrops } from './device-drops.js';
import type { MeshNode } from './node.js';
import { formatIpNetwork } from '../net/ip.js';

/** Certificates closer than this to their expiry get a warning in the status. */
export const CERT_EXPIRY_WARNING_SECONDS = 30 * 24 * 3600;

export interface TunnelStatus {
  name: string;
  vpnIp: string;
  /** Every overlay address of the peer (its certificate's networks), vpnIp first. */
  vpnAddrs: string[];
  /** The underlay address ("ip:port") of a direct tunnel; null when relayed. */
  remote: string | null;
  path: 'direct' | 'relay';
  /** The relay, when path is "relay". */
  relay: { vpnIp: string; name: string | null } | null;
  cipher: string;
  /** When the handshake completed (ISO 8601). mesh, like Nebula 1.6, never rekeys a tunnel. */
  lastHandshake: string;
  ageSeconds: number;
  rx: { packets: number; bytes: number };
  tx: { packets: number; bytes: number };
  /** Round trip of the last answered `mesh ping`, in ms; null if none. */
  lastRttMs: number | null;
  /** The version (1 or 2) of the certificate the peer presented in the tunnel's handshake. */
  certVersion: number;
}

export interface NodeStatus {
  node: { name: string; vpnIp: string; network: string; networks: string[]; groups: string[]; subnets: string[]; fingerprint: string; listen: string; tun: string | null; cipher: string };
  certificate: { notBefore: string; notAfter: string; expiresInSeconds: number; warning: string | null; versions: number[]; initiatingVersion: number };
  lighthouses: { vpnIp: string; name: string | null; reachable: boolean; lastAnswer: string | null }[];
  relays: { amRelay: boolean; useRelays: boolean; relays: { vpnIp: string; name: string | null; reachable: boolean }[] };
  tunnels: TunnelStatus[];
  pending: { vpnIp: string; attempts: number; sinceSeconds: number }[];
  counters: { rxPackets: number; txPackets: number; dropped: Record<string, number>; fastPath: FastPathStatus | null; kernel: KernelDrops };
}

/** What the native fast path forwarded (already part of rxPackets/txPackets), and its tables; null when it is off. */
export interface FastPathStatus {
  rxPackets: number;
  txPackets: number;
  tunnels: number;
  flows: number;
}

export function nodeStatus(node: MeshNode, now = Date.now()): NodeStatus {
  const { identity, config, hostmap } = node;
  const details = identity.cert.details;
  const nameOf = (vpnIp: VpnAddr) => hostmap.get(vpnIp)?.cert?.details.name ?? null;
  const reachable = (vpnIp: VpnAddr) => hostmap.get(vpnIp)?.established === true;
  const expiresInSeconds = Math.floor(details.notAfter - now / 1000);
  const established = [...hostmap.hosts()].filter((h) => h.established).sort((a, b) => compareVpnAddr(a.vpnIp, b.vpnIp));
  const tunnels = established.map((h) => tunnelStatus(node, h, now));
  return {
    node: {
      name: details.name,
      vpnIp: formatVpnAddr(identity.vpnIp),
      network: formatCidr(identity.vpnNetwork),
      networks: identity.vpnNetworks.map(formatIpNetwork),
      groups: [...details.groups],
      subnets: details.unsafeNetworks.map(formatIpNetwork),
      fingerprint: identity.fingerprint,
      listen: endpointKey({ address: config.listen.host, port: node.listenPort }),
      tun: config.tun.disabled ? null : node.tun.name,
      cipher: config.cipher,
    },
    certificate: {
      notBefore: new Date(details.notBefore * 1000).toISOString(),
      notAfter: new Date(details.notAfter * 1000).toISOString(),
      expiresInSeconds,
      warning:
        expiresInSeconds <= 0
          ? 'the certificate has expired'
          : expiresInSeconds < CERT_EXPIRY_WARNING_SECONDS
            ? `the certificate expires in ${days(expiresInSeconds)}`
            : null,
      versions: identity.certificates().map((c) => c.version),
      initiatingVersion: identity.initiatingVersion,
    },
    lighthouses: node.lighthouseClient.lighthouseStatus().map(({ vpnIp, lastAnswerAt }) => ({
      vpnIp: formatVpnAddr(vpnIp),
      name: nameOf(vpnIp),
      reachable: reachable(vpnIp),
      lastAnswer: lastAnswerAt === null ? null : new Date(lastAnswerAt).toISOString(),
    })),
    relays: {
      amRelay: config.relay.amRelay,
      useRelays: config.relay.useRelays,
      relays: config.relay.relays.map((vpnIp) => ({ vpnIp: formatVpnAddr(vpnIp), name: nameOf(vpnIp), reachable: reachable(vpnIp) })),
    },
    tunnels,
    pending: [...hostmap.pendingHosts()].map((h) => ({ vpnIp: formatVpnAddr(h.vpnIp), attempts: h.pending?.attempts ?? 0, sinceSeconds: Math.max(0, Math.round((now - h.createdAt) / 1000)) })),
    counters: { rxPackets: node.stats.rxPackets, txPackets: node.stats.txPackets, dropped: node.droppedByReason(), fastPath: fastPathStatus(node), kernel: node.kernelDrops() },
  };
}

function days(seconds: number): string {
  const n = Math.ceil(seconds / 86400);
  return n === 1 ? '1 day' : `${n} days`;
}

function tunnelStatus(node: MeshNode, host: HostInfo, now: number): TunnelStatus {
  const relay = host.remote ? null : node.relays.relayFor(host.vpnIp);
  return {
    name: host.cert?.details.name ?? '',
    vpnIp: formatVpnAddr(host.vpnIp),
    vpnAddrs: host.vpnAddrs.map(formatVpnAddr),
    remote: host.remote ? endpointKey(host.remote) : null,
    path: host.remote ? 'direct' : 'relay',
    relay: relay === null ? null : { vpnIp: formatVpnAddr(relay), name: node.hostmap.get(relay)?.cert?.details.name ?? null },
    cipher: node.config.cipher,
    lastHandshake: new Date(host.establishedAt).toISOString(),
    ageSeconds: Math.max(0, Math.round((now - host.establishedAt) / 1000)),
    rx: { packets: host.rxPackets, bytes: host.rxBytes },
    tx: { packets: host.txPackets, bytes: host.txBytes },
    lastRttMs: host.lastRttMs === null ? null : Math.round(host.lastRttMs * 1000) / 1000,
    certVersion: host.cert?.details.version ?? 1,
  };
}

/**
 * The overlay IP `mesh ping` means by `target`: an address inside our overlay networks (IPv4 or IPv6), or the
 * certificate name of a host we have a tunnel to.
 */
export function peerAddress(node: MeshNode, target: string): VpnAddr {
  if (target.includes(':')) {
    let ip: VpnAddr;
    try {
      ip = parseVpnAddr(target);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    if (!node.identity.inVpnNetworks(ip)) throw new UserError(`${target} is not inside the overlay networks`);
    if (node.identity.vpnAddrs.includes(ip)) throw new UserError(`${target} is this node`);
    return ip;
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(target)) {
    let ip: number;
    try {
      ip = parseIp(target);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    if (!node.identity.inVpnNetwork(ip)) throw new UserError(`${target} is not inside the overlay network ${formatCidr(node.identity.vpnNetwork)}`);
    if (ip === node.identity.vpnIp) throw new UserError(`${target} is this node`);
    return ip;
  }
  for (const host of node.hostmap.hosts()) if (host.cert?.details.name === target) return host.vpnIp;
  throw new UserError(`no tunnel to a host named "${target}" (a name is known once a tunnel to it is up; use its overlay IP)`);
}

function fastPathStatus(node: MeshNode): FastPathStatus | null {
  const t = node.fastPathTotals();
  return t && { rxPackets: t.rxPackets, txPackets: t.txPackets, tunnels: t.tunnels, flows: t.flows };
}
