import type { Logger } from 'pino';
import { endpointKey, type Endpoint } from '../net/endpoint.js';
import { formatIp } from '../net/ipv4.js';

export interface NodeStats {
  rxPackets: number;
  txPackets: number;
  dropped: Record<string, number>;
  recvErrorsSent: number;
  handshakeTimeouts: number;
  invalidCertificates: number;
  deadTunnels: number;
  firewallDrops: number;
}

/**
 * The node's counters and its logging of what remote input causes. Everything a remote packet can
 * make us log goes through `limited`, at most once per second per key, so a flood of forged or
 * repeated datagrams cannot flood the log.
 */
export class Diagnostics {
  readonly stats: NodeStats = {
    rxPackets: 0,
    txPackets: 0,
    dropped: {},
    recvErrorsSent: 0,
    handshakeTimeouts: 0,
    invalidCertificates: 0,
    deadTunnels: 0,
    firewallDrops: 0,
  };
  private readonly loggedAt = new Map<string, number>();

  /** `now` (ms) paces the log limiter: the node's timers, so that tests with fake timers control it. */
  constructor(
    readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keys the log rate limiter holds (bounded: tests check that remote input cannot grow it). */
  get limiterKeys(): number {
    return this.loggedAt.size;
  }

  /** True at most once per second per key. */
  private allowed(key: string): boolean {
    const now = this.now();
    const last = this.loggedAt.get(key);
    if (last !== undefined && now - last < 1000) return false;
    if (this.loggedAt.size > 4096) this.loggedAt.clear();
    this.loggedAt.set(key, now);
    return true;
  }

  /** Logs at `level` at most once per second per key. */
  limited(level: 'info' | 'debug', key: string, fields: Record<string, unknown>, message: string): void {
    if (this.log.isLevelEnabled(level) && this.allowed(key)) this.log[level](fields, message);
  }

  /** Counts a dropped datagram and logs it at debug, at most once per second per source. */
  drop(kind: string, from: Endpoint | null, err?: unknown): void {
    this.stats.dropped[kind] = (this.stats.dropped[kind] ?? 0) + 1;
    if (!this.log.isLevelEnabled('debug')) return;
    const source = from ? endpointKey(from) : 'relay';
    if (!this.allowed(`${kind} ${source}`)) return;
    this.log.debug({ from: source, kind, reason: err instanceof Error ? err.message : err, total: this.stats.dropped[kind] }, 'dropped datagram');
  }

  firewallDrop(direction: 'inbound' | 'outbound', reason: string, vpnIp: number | null): void {
    this.stats.firewallDrops++;
    const kind = `firewall-${direction}`;
    this.stats.dropped[kind] = (this.stats.dropped[kind] ?? 0) + 1;
    if (!this.log.isLevelEnabled('debug') || !this.allowed(`${kind} ${vpnIp ?? 0}`)) return;
    this.log.debug({ direction, reason, vpnIp: vpnIp === null ? undefined : formatIp(vpnIp) }, 'firewall dropped packet');
  }
}
