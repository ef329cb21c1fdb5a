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

/** Lines per second the limiter lets through over all keys, and the burst it may save up. */
export const LOG_LINES_PER_SECOND = 20;
export const LOG_LINES_BURST = 100;

/**
 * The node's counters and its logging of what remote input causes. Everything a remote packet can
 * make us log goes through one limiter (`limited`, `drop`, `firewallDrop`): at most once per second
 * per key, and at most LOG_LINES_PER_SECOND lines over all keys, so a flood of forged or repeated
 * datagrams cannot flood the log whatever addresses or indexes it carries. What the budget holds
 * back is counted and reported in one line with the next line let through.
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
  private budget = LOG_LINES_BURST;
  private budgetAt: number | null = null;
  private suppressed = 0;

  /** `now` (ms) paces the log limiter: the node's timers, so that tests with fake timers control it. */
  constructor(
    readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keys the log rate limiter holds (bounded: tests check that remote input cannot grow it). */
  get limiterKeys(): number {
    return this.loggedAt.size;
  }

  /** Remote-caused lines held back by the overall budget since the last line let through. */
  get suppressedLines(): number {
    return this.suppressed;
  }

  /** True at most once per second per key, and while the overall budget lasts. */
  private allowed(key: string): boolean {
    const now = this.now();
    const last = this.loggedAt.get(key);
    if (last !== undefined && now - last < 1000) return false;
    this.budget = Math.min(LOG_LINES_BURST, this.budget + ((now - (this.budgetAt ?? now)) * LOG_LINES_PER_SECOND) / 1000);
    this.budgetAt = now;
    if (this.budget < 1) {
      this.suppressed++;
      return false;
    }
    this.budget--;
    if (this.loggedAt.size > 4096) this.loggedAt.clear();
    this.loggedAt.set(key, now);
    if (this.suppressed > 0) {
      this.log.info({ suppressed: this.suppressed }, 'log rate limit: lines caused by remote packets were suppressed');
      this.suppressed = 0;
    }
    return true;
  }

  /** Logs at `level` at most once per second per key (and within the overall budget). */
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
