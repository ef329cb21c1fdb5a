import { formatVpnAddr } from '../net/ip.js';
import type { Diagnostics } from './diagnostics.js';
import type { HostInfo, HostMap } from './hostmap.js';
import type { Timer, Timers } from './timers.js';

/** An RTT probe's payload: the send time as a float64 (ms on the monotonic clock). */
const RTT_PROBE_LEN = 8;
/** Echoed times further back than this are not round trips we measured. */
const MAX_PLAUSIBLE_RTT_MS = 60_000;

/** What the connection manager needs from its node. */
export interface ConnectionDeps {
  readonly hostmap: HostMap;
  readonly diag: Diagnostics;
  readonly timers: Timers;
  settings(): { connectionAliveInterval: number; pendingDeletionInterval: number; disconnectInvalid: boolean };
  /** Re-checks a peer certificate; false (and the tunnel closed) when it no longer holds. */
  stillValid(host: HostInfo): boolean;
  /** A TestRequest; the peer echoes `payload` in its TestReply (Nebula does too). */
  sendTest(host: HostInfo, payload?: Uint8Array): void;
  /** A monotonic clock in ms for round trips (default: performance.now). */
  monotonicMs?(): number;
  removeTunnel(host: HostInfo, notify: boolean): void;
  /** Runs the checks due at one time with their test requests sent as one batch (default: just runs them). */
  batchSends?(work: () => void): void;
}

/** The tunnels whose liveness check is due at one time, under one timer. */
interface DueChecks {
  hosts: Set<HostInfo>;
  timer: Timer;
}

/** One tunnel's place in a DueChecks (a small object: a lighthouse has one per tunnel it sent on). */
class DueCheck implements Timer {
  constructor(
    private readonly due: Map<number, DueChecks>,
    private readonly at: number,
    private readonly group: DueChecks,
    private readonly host: HostInfo,
  ) {}

  cancel(): void {
    const { hosts, timer } = this.group;
    if (!hosts.delete(this.host) || hosts.size > 0) return;
    timer.cancel();
    if (this.due.get(this.at) === this.group) this.due.delete(this.at);
  }
}

/**
 * Nebula's liveness rule: a tunnel we send on must hear something back. After
 * `connection_alive_interval` without inbound traffic we send a test request; if nothing arrives
 * within `pending_deletion_interval` more, the tunnel is dead and removed (the next packet starts
 * a new handshake). Tunnels we only receive on are not probed, as in Nebula.
 */
export class ConnectionManager {
  private readonly monotonicMs: () => number;
  /**
   * Checks by the time they are due (the timers' clock, ms): tunnels armed in the same millisecond
   * share a timer, so a lighthouse that sends on thousands of tunnels a second keeps a few thousand
   * timers instead of one per tunnel, and sends their tests in batches.
   */
  private readonly due = new Map<number, DueChecks>();

  constructor(private readonly deps: ConnectionDeps) {
    this.monotonicMs = deps.monotonicMs ?? (() => performance.now());
  }

  /** Measures a tunnel's round trip: a test request carrying its send time, which the reply echoes. */
  probeRtt(host: HostInfo): void {
    const payload = Buffer.alloc(RTT_PROBE_LEN);
    payload.writeDoubleBE(this.monotonicMs());
    this.deps.sendTest(host, payload);
  }

  /** The one place round trips are measured: from an RTT probe's echoed time, or from a liveness test. */
  onTestReply(host: HostInfo, payload: Uint8Array): void {
    let rtt: number;
    if (payload.length === RTT_PROBE_LEN) rtt = this.monotonicMs() - Buffer.from(payload.buffer, payload.byteOffset, payload.length).readDoubleBE(0);
    else if (payload.length === 0 && host.testSentAt !== 0) rtt = this.deps.timers.now() - host.testSentAt;
    else return;
    // The peer only echoes what we sent, but a buggy or hostile one could echo anything.
    if (rtt >= 0 && rtt <= MAX_PLAUSIBLE_RTT_MS) host.lastRttMs = rtt;
  }

  outbound(host: HostInfo): void {
    host.outboundSeen = true;
    if (!host.livenessTimer) this.arm(host, this.deps.settings().connectionAliveInterval);
  }

  /**
   * Tunnels whose traffic the native fast path sent: it marks outboundSeen but cannot arm the
   * check that outbound() arms, so the node calls this periodically for the tunnels it forwards on.
   */
  outboundSeenBy(hosts: Iterable<HostInfo>): void {
    for (const host of hosts) if (host.outboundSeen && !host.livenessTimer) this.outbound(host);
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
    const at = this.deps.timers.now() + delay;
    let group = this.due.get(at);
    if (!group) {
      const hosts = new Set<HostInfo>();
      const timer = this.deps.timers.after(delay, () => {
        this.due.delete(at);
        const run = () => {
          for (const h of hosts) this.check(h);
        };
        if (this.deps.batchSends) this.deps.batchSends(run);
        else run();
      });
      group = { hosts, timer };
      this.due.set(at, group);
    }
    group.hosts.add(host);
    host.livenessTimer = new DueCheck(this.due, at, group, host);
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
      diag.log.debug({ vpnIp: formatVpnAddr(host.vpnIp) }, 'no inbound traffic, sending a test packet');
      host.testSentAt = this.deps.timers.now();
      this.deps.sendTest(host);
      this.arm(host, settings.pendingDeletionInterval);
      return;
    }
    diag.log.info({ vpnIp: formatVpnAddr(host.vpnIp), remote: host.remote ? `${host.remote.address}:${host.remote.port}` : null }, 'tunnel is dead, removing it');
    diag.stats.deadTunnels++;
    this.deps.removeTunnel(host, false);
  }
}
