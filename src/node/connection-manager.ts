import { formatIp } from '../net/ipv4.js';
import type { HostInfo } from './hostmap.js';
import type { MeshNode } from './node.js';

/**
 * Nebula's liveness rule: a tunnel we send on must hear something back. After
 * `connection_alive_interval` without inbound traffic we send a test request; if nothing arrives
 * within `pending_deletion_interval` more, the tunnel is dead and removed (the next packet starts
 * a new handshake). Tunnels we only receive on are not probed, as in Nebula.
 */
export class ConnectionManager {
  constructor(private readonly node: MeshNode) {}

  outbound(host: HostInfo): void {
    host.outboundSeen = true;
    if (!host.livenessTimer) this.arm(host, this.node.config.timers.connectionAliveInterval);
  }

  inbound(host: HostInfo): void {
    host.inboundSeen = true;
  }

  /** A candidate tunnel nobody used is dropped after both liveness periods have passed twice. */
  expireCandidate(host: HostInfo): void {
    const { connectionAliveInterval, pendingDeletionInterval } = this.node.config.timers;
    host.livenessTimer = setTimeout(() => {
      host.livenessTimer = null;
      this.node.hostmap.removeCandidate(host);
    }, 2 * (connectionAliveInterval + pendingDeletionInterval));
    host.livenessTimer.unref?.();
  }

  private arm(host: HostInfo, delay: number): void {
    host.livenessTimer = setTimeout(() => this.check(host), delay);
    host.livenessTimer.unref?.();
  }

  private check(host: HostInfo): void {
    host.livenessTimer = null;
    const node = this.node;
    if (node.hostmap.get(host.vpnIp) !== host) return;
    if (node.config.pki.disconnectInvalid && host.cert && !node.stillValid(host)) return;
    if (host.inboundSeen) {
      host.inboundSeen = false;
      host.outboundSeen = false;
      host.testSentAt = 0;
      return;
    }
    if (host.testSentAt === 0) {
      node.log.debug({ vpnIp: formatIp(host.vpnIp) }, 'no inbound traffic, sending a test packet');
      host.testSentAt = Date.now();
      node.sendTest(host);
      this.arm(host, node.config.timers.pendingDeletionInterval);
      return;
    }
    node.log.info({ vpnIp: formatIp(host.vpnIp), remote: host.remote ? `${host.remote.address}:${host.remote.port}` : null }, 'tunnel is dead, removing it');
    node.stats.deadTunnels++;
    node.removeTunnel(host, false);
  }
}
