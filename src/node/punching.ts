import type { Endpoint } from '../net/endpoint.js';
import { formatIp } from '../net/ipv4.js';
import { MessageSubType, MessageType } from '../protocol/header.js';
import { hiLoToIp6, type MetaDetails } from '../protocol/messages.js';
import type { NodeConfig } from './config.js';
import type { Diagnostics } from './diagnostics.js';
import type { HostInfo } from './hostmap.js';
import type { Timer, Timers } from './timers.js';
import type { VpnAddr } from '../net/ip.js';
import type { LocalIdentity } from './identity.js';

/** What hole punching needs from its node. */
export interface PunchDeps {
  readonly diag: Diagnostics;
  readonly timers: Timers;
  identity(): Pick<LocalIdentity, 'vpnIp' | 'vpnAddrs' | 'addrForm' | 'inVpnNetwork' | 'inVpnNetworks'>;
  settings(): Pick<NodeConfig, 'punchy'>;
  /** The established tunnels, whose NAT mappings `punchy.punch` keeps open. */
  tunnels(): Iterable<HostInfo>;
  sendRaw(data: Uint8Array, to: Endpoint): void;
  /** Sends to a peer by overlay IP, handshaking first when there is no tunnel. */
  sendTo(vpnIp: VpnAddr, type: number, subtype: number, payload: Uint8Array): void;
}

/** Nebula's hole punch after a HostPunchNotification: one byte 0x00. */
export const PUNCH = Uint8Array.of(0x00);
/** Nebula's NAT keepalive (`punchy.punch`): one byte 0x01. */
export const KEEPALIVE = Uint8Array.of(0x01);
/** How often `punchy.punch` refreshes the NAT mappings of established tunnels (Nebula: 10 s). */
export const KEEPALIVE_INTERVAL_MS = 10_000;
/** Addresses punched per notification and family (the lighthouse sends at most 10 + learned). */
const MAX_PUNCH_TARGETS = 16;
/** Delayed punches and responses waiting at once; beyond this a notification is dropped. */
const MAX_SCHEDULED = 1024;

/**
 * Hole punching (Nebula 1.6 §5.4): answers a lighthouse's HostPunchNotification by sending a byte
 * to every address of the host that is trying to reach us, so our NAT lets its handshake in; with
 * `punchy.respond` also handshakes towards it; with `punchy.punch` keeps NAT mappings open.
 */
export class Puncher {
  private readonly scheduled = new Set<Timer>();
  private keepaliveTimer: Timer | null = null;
  private stopped = false;

  constructor(private readonly deps: PunchDeps) {}

  /** Starts (or, after a reload turned punchy.punch off, stops) the keepalives. */
  start(): void {
    if (!this.deps.settings().punchy.punch) {
      this.keepaliveTimer?.cancel();
      this.keepaliveTimer = null;
      return;
    }
    if (this.keepaliveTimer) return;
    this.keepaliveTimer = this.deps.timers.every(KEEPALIVE_INTERVAL_MS, () => this.sendKeepalives());
  }

  stop(): void {
    this.stopped = true;
    this.keepaliveTimer?.cancel();
    this.keepaliveTimer = null;
    for (const timer of this.scheduled) timer.cancel();
    this.scheduled.clear();
  }

  /** A HostPunchNotification from a lighthouse: `details` names the querier and its addresses. */
  onNotification(details: MetaDetails): void {
    const deps = this.deps;
    const identity = deps.identity();
    if (this.scheduled.size >= MAX_SCHEDULED) {
      deps.diag.drop('punch-backlog', null, 'too many punches waiting');
      return;
    }
    const targets: Endpoint[] = [];
    for (const e of details.ip4AndPorts.slice(0, MAX_PUNCH_TARGETS)) {
      // Punching into our own overlay, or at port 0, reaches nothing.
      if (e.ip !== 0 && e.port !== 0 && !identity.inVpnNetwork(e.ip)) targets.push({ address: formatIp(e.ip), port: e.port });
    }
    for (const e of details.ip6AndPorts.slice(0, MAX_PUNCH_TARGETS)) {
      if (e.port !== 0 && (e.hi !== 0n || e.lo !== 0n)) targets.push({ address: hiLoToIp6(e.hi, e.lo), port: e.port });
    }
    const { delay, respond, respondDelay } = deps.settings().punchy;
    if (targets.length > 0) {
      this.later(delay, () => {
        for (const to of targets) deps.sendRaw(PUNCH, to);
        deps.diag.stats.punchesSent += targets.length;
      });
    }
    const querier = details.vpnIp;
    if (respond && !identity.vpnAddrs.includes(querier) && identity.inVpnNetworks(querier)) {
      // A test request starts our own handshake towards the querier when there is no tunnel:
      // this gets through when only the querier's NAT is the problem.
      this.later(respondDelay, () => deps.sendTo(querier, MessageType.Test, MessageSubType.TestRequest, Buffer.alloc(0)));
    }
  }

  /** `punchy.punch`: a 0x01 byte to the remote of every established tunnel. */
  sendKeepalives(): void {
    for (const host of this.deps.tunnels()) if (host.established && host.remote) this.deps.sendRaw(KEEPALIVE, host.remote);
  }

  private later(ms: number, action: () => void): void {
    const timer = this.deps.timers.after(ms, () => {
      this.scheduled.delete(timer);
      if (!this.stopped) action();
    });
    this.scheduled.add(timer);
  }
}
