import { formatIp } from '../net/ipv4.js';
import type { Diagnostics } from './diagnostics.js';
import type { HostInfo, HostMap } from './hostmap.js';
import type { Timers } from './timers.js';

/** What the connection manager needs from its node. */
export interface ConnectionDeps {
  readonly hostmap: HostMap;
  readonly diag: Diagnostics;
  readonly timers: Timers;
  settings(): { connectionAliveInterval: number; pendingDeletionInterval: number; disconnectInvalid: boolean };
  /** Re-checks a peer certificate; false (and the tunnel closed) when it no longer holds. */
  stillValid(host: HostInfo): boolean;
  sendTest(host: HostInfo): void;
  removeTunnel(host: HostInfo, notify: boolean): void;
}

/**
 * Nebula's liveness rule: a tunnel we send on must hear something back. After
 * `connection_alive_interval` without inbound traffic we send a test request; if nothing arrives
 * within `pending_deletion_interval` more, the tunnel is dead and removed (the next packet starts
 * a new handshake). Tunnels we only receive on are not probed, as in Nebula.
 */
export class ConnectionManager {
  constructor(private readonly deps: ConnectionDeps) {}

  outbound(host: HostInfo): void {
    host.outboundSeen = true;
    if (!host.livenessTimer) this.arm(host, this.deps.settings().connectionAliveInterval);
  }

  inbound(host: HostInfo): void {
    host.inboundSeen = true;
  }

  /** A candidate tunnel nobody used is dropped after both liveness periods have passed twice. */
  expireCandidate(host: HostInfo): void {
    const { connectionAliveInterval, pendingDeletionInterval } = this.deps.settings();
    host.livenessTimer = this.deps.timers.after(2 * (connectionAliveInterval + pendingDeletionInterval), () => {
      host.livenessTimer = null;
      this.deps.hostmap.removeCandidate(host);
    });
  }

  private arm(host: HostInfo, delay: number): void {
    host.livenessTimer = this.deps.timers.after(delay, () => this.check(host));
  }

  private check(host: HostInfo): void {
    host.livenessTimer = null;
    const { hostmap, diag } = this.deps;
    const settings = this.deps.settings();
    if (hostmap.get(host.vpnIp) !== host) return;
    if (settings.disconnectInvalid && host.cert && !this.deps.stillValid(host)) return;
    if (host.inboundSeen) {
      host.inboundSeen = false;
      host.outboundSeen = false;
      host.testSentAt = 0;
      return;
    }
    if (host.testSentAt === 0) {
      diag.log.debug({ vpnIp: formatIp(host.vpnIp) }, 'no inbound traffic, sending a test packet');
      host.testSentAt = this.deps.timers.now();
      this.deps.sendTest(host);
      this.arm(host, settings.pendingDeletionInterval);
      return;
    }
    diag.log.info({ vpnIp: formatIp(host.vpnIp), remote: host.remote ? `${host.remote.address}:${host.remote.port}` : null }, 'tunnel is dead, removing it');
    diag.stats.deadTunnels++;
    this.deps.removeTunnel(host, false);
  }
}
