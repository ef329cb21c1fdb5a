import type { Logger } from 'pino';
import { endpointKey, type Endpoint } from '../net/endpoint.js';
import { formatVpnAddr, type VpnAddr } from '../net/ip.js';

/** Totals since start: plain number increments where they happen, read at scrape time (src/node/metrics.ts). */
export interface NodeStats {
  /** Every datagram received / sent on the socket, and their bytes. */
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  /** Datagrams by Nebula header type (index), received / sealed and sent (stats.message_metrics). */
  rxByType: number[];
  txByType: number[];
  dropped: Record<string, number>;
  recvErrorsSent: number;
  handshakesInitiated: number;
  handshakesCompleted: number;
  handshakeTimeouts: number;
  invalidCertificates: number;
  deadTunnels: number;
  firewallDrops: number;
  /** Hole punches sent (punchy). */
  punchesSent: number;
  /** Host queries sent to lighthouses, and their answers received. */
  lighthouseQueries: number;
  lighthouseAnswers: number;
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
    rxBytes: 0,
    txBytes: 0,
    rxByType: new Array<number>(16).fill(0),
    txByType: new Array<number>(16).fill(0),
    dropped: {},
    recvErrorsSent: 0,
    handshakesInitiated: 0,
    handshakesCompleted: 0,
    handshakeTimeouts: 0,
    invalidCertificates: 0,
    deadTunnels: 0,
    firewallDrops: 0,
    punchesSent: 0,
    lighthouseQueries: 0,
    lighthouseAnswers: 0,
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

  firewallDrop(direction: 'inbound' | 'outbound', reason: string, vpnIp: VpnAddr | null): void {
    this.stats.firewallDrops++;
    const kind = `firewall-${direction}`;
    this.stats.dropped[kind] = (this.stats.dropped[kind] ?? 0) + 1;
    if (!this.log.isLevelEnabled('debug') || !this.allowed(`${kind} ${vpnIp ?? 0}`)) return;
    this.log.debug({ direction, reason, vpnIp: vpnIp === null ? undefined : formatVpnAddr(vpnIp) }, 'firewall dropped packet');
  }
}
