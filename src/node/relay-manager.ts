import { randomBytes } from 'node:crypto';
import type { OutgoingDatagram } from '../io/udp.js';
import type { Endpoint } from '../net/endpoint.js';
import { formatVpnAddr, type VpnAddr } from '../net/ip.js';
import { MessageType, type Header } from '../protocol/header.js';
import { ControlType, decodeControl, encodeControl, type ControlMessage } from '../protocol/messages.js';
import { openRelayFrame, sealRelayFrame } from '../protocol/relay-frame.js';
import type { NodeConfig } from './config.js';
import type { Diagnostics } from './diagnostics.js';
import type { HostInfo, HostMap } from './hostmap.js';
import type { Timer, Timers } from './timers.js';

/** What the relay manager needs from its node. */
export interface RelayDeps {
  readonly hostmap: HostMap;
  readonly diag: Diagnostics;
  readonly timers: Timers;
  identity(): { readonly vpnIp: number; readonly vpnAddrs: readonly VpnAddr[]; inVpnNetworks(ip: VpnAddr): boolean };
  settings(): { relay: NodeConfig['relay']; connectionAliveInterval: number };
  /** True when STUN found our NAT symmetric: punching cannot work. */
  natSymmetric(): boolean;
  startHandshake(vpnIp: VpnAddr, options?: { directOnly?: boolean }): void;
  /** Sends a message on an established tunnel (control messages to a hop). */
  sendOn(host: HostInfo, type: number, subtype: number, payload: Uint8Array): void;
  /** Sends a sealed datagram to a tunnel's address, counted as traffic on it (into `out` when given). */
  transmit(host: HostInfo, datagram: Uint8Array, out?: OutgoingDatagram[]): void;
  /** An authenticated frame arrived on a hop tunnel from `from` (roaming, liveness). */
  heardFrom(hop: HostInfo, from: Endpoint): void;
  /** The inner packet of a frame that ends here, processed like a datagram without an address. */
  deliver(inner: Buffer, hop: HostInfo, toTun: Buffer[]): void;
  removeTunnel(host: HostInfo, notify: boolean): void;
}

/** Relay records one hop tunnel may carry: a relay serves many pairs, but not without bound. */
export const MAX_RELAYS_PER_HOP = 256;
/** Relay records in total (each holds a relay index in the separate relay index namespace). */
export const MAX_RELAYS = 4096;
/** Relays asked on one handshake attempt (lighthouses may list several for a host). */
const MAX_RELAYS_TRIED = 4;
/** How often a node checks that it has a tunnel to each of its own relays. */
const OWN_RELAYS_CHECK_MS = 10_000;
/** A relayed tunnel tries a direct path every this many connection_alive_intervals (30 s by default). */
const UPGRADE_EVERY_ALIVE_INTERVALS = 6;
const MAX_UPGRADE_BACKOFF = 16;

/**
 * requested: we asked for it and wait for the answer. peer-requested (forwarding, R only): the
 * initiator's half, waiting for the target's half. established: frames flow.
 */
export type RelayState = 'requested' | 'peer-requested' | 'established';

/** One half of a relay, stored against the hop tunnel it rides on (Nebula's `Relay`). */
export interface Relay {
  /** Our relay index: the remote index of frames that arrive for this relay. */
  readonly localIndex: number;
  /** The other side's relay index: the remote index we put in frames we send; 0 until known. */
  remoteIndex: number;
  /** The hop tunnel (to the relay on A and B, to an end on R). */
  readonly hop: HostInfo;
  /** The overlay IP at the far end: the end-to-end peer (terminal), the other hop's peer (forwarding). */
  readonly peerIp: VpnAddr;
  /** Terminal: frames carry packets for this node. Forwarding: frames are passed on (R). */
  readonly terminal: boolean;
  /** Terminal relays we asked for (A side); the others were asked of us. */
  readonly initiatedHere: boolean;
  state: RelayState;
}

/**
 * Relays (Nebula 1.6 §6): CreateRelayRequest/Response control messages and relay frames, for the
 * three roles: A asks R to reach B, R forwards between its tunnels to A and B, B accepts.
 *
 * A end-to-end tunnel without a direct address (`host.remote === null`) is reached through any
 * established terminal relay whose peer is that tunnel's overlay IP, until a direct handshake
 * replaces it (startUpgrades).
 */
export class RelayManager {
  /** Every relay by its local relay index (the namespace relay frames are looked up in). */
  private readonly byIndex = new Map<VpnAddr, Relay>();
  /** The relay table of each hop tunnel, by the relay's peer overlay IP. */
  private readonly byHop = new Map<HostInfo, Map<VpnAddr, Relay>>();
  /** The terminal relay whose frame is being processed, so a handshake reply goes back through it. */
  private inbound: Relay | null = null;
  private refusalLogged = false;
  private ownRelaysTimer: Timer | null = null;
  private upgradeTimer: Timer | null = null;

  constructor(private readonly deps: RelayDeps) {}

  /**
   * Keeps a tunnel to each of this node's own relays (`relay.relays`): a relay can only reach us
   * over a tunnel we opened when our NAT drops what we did not ask for (punchy.punch keeps its
   * mapping). Nebula 1.6 leaves this to chance (a punch-back 5 s after someone asks for us).
   */
  start(): void {
    this.startUpgrades();
    const { hostmap } = this.deps;
    // Settings read at each check: a reload may change relay.relays.
    const check = () => {
      const { relays, amRelay } = this.deps.settings().relay;
      if (amRelay) return;
      for (const relay of relays) {
        if (relay === this.deps.identity().vpnIp || hostmap.get(relay) || hostmap.getPending(relay)) continue;
        this.deps.startHandshake(relay);
      }
    };
    check();
    this.ownRelaysTimer = this.deps.timers.every(OWN_RELAYS_CHECK_MS, check);
  }

  /**
   * Now and then, a relayed tunnel whose peer has direct addresses tries a direct handshake (never
   * via relays); when it completes, the direct tunnel replaces the relayed one on both sides (the
   * peer switches when our traffic arrives on it). Nebula 1.6 keeps a relayed tunnel relayed for
   * its whole life. Not tried behind a symmetric NAT, where it cannot work.
   */
  private startUpgrades(): void {
    const settings = this.deps.settings();
    if (!settings.relay.useRelays) return;
    const { hostmap } = this.deps;
    const every = UPGRADE_EVERY_ALIVE_INTERVALS * settings.connectionAliveInterval;
    // Per relayed tunnel: ticks to skip before the next try, doubling after each (up to 16).
    const backoff = new Map<HostInfo, { wait: number; skip: number }>();
    this.upgradeTimer = this.deps.timers.every(every, () => {
      for (const host of backoff.keys()) if (host.remote || hostmap.get(host.vpnIp) !== host) backoff.delete(host);
      if (this.deps.natSymmetric()) return;
      for (const host of hostmap.hosts()) {
        if (host.remote || !host.established || host.remotes.size === 0 || hostmap.getPending(host.vpnIp)) continue;
        const state = backoff.get(host) ?? { wait: 1, skip: 0 };
        backoff.set(host, state);
        if (state.skip > 0) {
          state.skip--;
          continue;
        }
        state.skip = state.wait - 1;
        state.wait = Math.min(MAX_UPGRADE_BACKOFF, state.wait * 2);
        this.deps.diag.log.debug({ vpnIp: formatVpnAddr(host.vpnIp) }, 'trying a direct path for a relayed tunnel');
        this.deps.startHandshake(host.vpnIp, { directOnly: true });
      }
    });
  }

  /** The relay (its overlay IP) that traffic to `vpnIp` currently goes through, if any. */
  relayFor(vpnIp: VpnAddr): VpnAddr | null {
    const relay = this.terminalTo(vpnIp);
    return relay ? relay.hop.vpnIp : null;
  }

  /** Every relay record, for diagnostics and tests. */
  relays(): Relay[] {
    return [...this.byIndex.values()];
  }

  /** A NebulaControl message (header type 6) from an established tunnel. */
  handleControl(host: HostInfo, payload: Buffer): void {
    let message: ControlMessage;
    try {
      message = decodeControl(payload);
    } catch (err) {
      this.deps.diag.drop('control-malformed', host.remote, err);
      return;
    }
    if (message.type === ControlType.CreateRelayRequest) this.handleRequest(host, message);
    else if (message.type === ControlType.CreateRelayResponse) this.handleResponse(host, message);
    else this.deps.diag.drop('control-type', host.remote);
  }

  /** A relay frame (type 1, subtype 1) from the socket. */
  receiveFrame(data: Buffer, header: Header, from: Endpoint, toTun: Buffer[]): void {
    const diag = this.deps.diag;
    const relay = this.byIndex.get(header.remoteIndex);
    if (!relay) return diag.drop('relay-unknown-index', from);
    const hop = relay.hop;
    if (!hop.decrypt || !hop.window.check(header.counter)) return diag.drop('relay-replay', from);
    const inner = openRelayFrame(hop.decrypt, data, header.counter);
    if (!inner) return diag.drop('relay-bad-tag', from);
    // Nebula 1.6.1 leaves the window alone for relay frames; updating it refuses replayed frames.
    if (!hop.window.update(header.counter)) return diag.drop('relay-replay', from);
    this.deps.heardFrom(hop, from);
    if (relay.state !== 'established') return diag.drop('relay-not-established', from);
    if (relay.terminal) {
      this.inbound = relay;
      try {
        this.deps.deliver(inner, hop, toTun);
      } finally {
        this.inbound = null;
      }
      return;
    }
    const onward = this.partnerOf(relay);
    if (!onward || onward.state !== 'established' || !onward.hop.remote) return diag.drop('relay-no-onward', from);
    this.sendFrame(onward, inner);
  }

  /**
   * Sends a sealed end-to-end packet to a tunnel that has no direct address, through a relay.
   * Returns false when there is no established relay to the peer.
   */
  sendRelayed(host: HostInfo, datagram: Buffer, out?: OutgoingDatagram[]): boolean {
    const relay = this.terminalTo(host.vpnIp);
    if (!relay) return false;
    this.sendFrame(relay, datagram, out);
    return true;
  }

  /** A handshake message 2 (or a re-sent one) for a message 1 that came through `hop`. */
  sendHandshakeVia(hop: HostInfo, message: Buffer): void {
    const relay = this.inbound;
    if (relay && relay.hop === hop) this.sendFrame(relay, message);
  }

  /** Every handshake attempt: ask relays for a path when the peer advertises some. */
  onHandshakeAttempt(host: HostInfo, message: Buffer): void {
    const { hostmap } = this.deps;
    const identity = this.deps.identity();
    const { useRelays, amRelay } = this.deps.settings().relay;
    // Relays do not use relays themselves (Nebula: am_relay overrides the rest).
    if (!useRelays || amRelay || !host.pending || host.pending.directOnly) return;
    const relayIps = host.remotes.relays;
    if (relayIps.length === 0) return;
    // Direct addresses get one attempt alone unless they are unlikely to work.
    const directFirst = host.pending.attempts < 2 && host.remotes.size > 0 && !this.deps.natSymmetric();
    if (directFirst) return;
    let asked = 0;
    for (const relayIp of relayIps) {
      if (asked >= MAX_RELAYS_TRIED) break;
      if (relayIp === host.vpnIp || identity.vpnAddrs.includes(relayIp)) continue;
      asked++;
      const hop = hostmap.get(relayIp);
      if (!hop) {
        if (identity.inVpnNetworks(relayIp)) this.deps.startHandshake(relayIp);
        continue;
      }
      // A relay is only usable over a direct tunnel: frames are not nested.
      if (!hop.remote) continue;
      let relay = this.tableOf(hop)?.get(host.vpnIp);
      if (relay && !relay.terminal) continue;
      if (!relay) {
        const created = this.add(hop, host.vpnIp, { terminal: true, initiatedHere: true, state: 'requested', remoteIndex: 0 });
        if (!created) continue;
        relay = created;
      }
      if (relay.state === 'established') this.sendFrame(relay, message);
      else this.sendControl(hop, { type: ControlType.CreateRelayRequest, initiatorRelayIndex: relay.localIndex, responderRelayIndex: 0, relayFromIp: identity.vpnIp, relayToIp: host.vpnIp });
    }
  }

  /** A tunnel is gone: tear down every relay using it as a hop, and our requests for a relayed peer. */
  onTunnelGone(host: HostInfo): void {
    const table = this.byHop.get(host);
    const strandedPeers: VpnAddr[] = [];
    if (table) {
      for (const relay of [...table.values()]) {
        if (relay.terminal) strandedPeers.push(relay.peerIp);
        this.removeWithPartner(relay);
      }
    }
    // A relayed tunnel with no path left would swallow traffic: drop it so the next packet handshakes anew.
    for (const peer of strandedPeers) {
      const end = this.deps.hostmap.get(peer);
      if (end && !end.remote && !this.terminalTo(peer)) {
        this.deps.diag.limited('info', `relay-gone ${peer}`, { vpnIp: formatVpnAddr(peer), relay: formatVpnAddr(host.vpnIp) }, 'relay hop is gone, removing the tunnel relayed through it');
        this.deps.removeTunnel(end, false);
      }
    }
    // A relayed tunnel that died: the path behind the relay may be gone, so ask again next time.
    const current = this.deps.hostmap.get(host.vpnIp);
    if (!host.remote && (!current || current === host)) {
      for (const relay of this.relays()) {
        if (relay.terminal && relay.initiatedHere && relay.peerIp === host.vpnIp) this.remove(relay);
      }
    }
  }

  stop(): void {
    this.ownRelaysTimer?.cancel();
    this.ownRelaysTimer = null;
    this.upgradeTimer?.cancel();
    this.upgradeTimer = null;
    this.byIndex.clear();
    this.byHop.clear();
  }

  private handleRequest(hop: HostInfo, m: ControlMessage): void {
    const { hostmap, diag } = this.deps;
    const identity = this.deps.identity();
    // Frames are not nested: a relay needs a direct tunnel on both of its hops.
    if (!hop.remote) return diag.drop('relay-over-relay', null);
    const forUs = identity.vpnAddrs.includes(m.relayToIp);
    // To the target the request comes from a relay on the initiator's behalf; to a relay the
    // initiator speaks for itself, so nobody opens relays in another node's name.
    const sane = forUs ? m.relayFromIp !== hop.vpnIp && !identity.vpnAddrs.includes(m.relayFromIp) : m.relayFromIp === hop.vpnIp && m.relayToIp !== hop.vpnIp;
    if (!sane || m.initiatorRelayIndex === 0) return diag.drop('relay-request-invalid', hop.remote);
    if (forUs) return this.acceptAsTarget(hop, m);
    if (!this.deps.settings().relay.amRelay) {
      if (!this.refusalLogged) {
        this.refusalLogged = true;
        diag.log.info({ from: formatVpnAddr(hop.vpnIp), to: formatVpnAddr(m.relayToIp) }, 'refusing relay request: relay.am_relay is false (further refusals are only counted)');
      }
      diag.drop('relay-refused', hop.remote);
      return;
    }
    if (!identity.inVpnNetworks(m.relayToIp)) return diag.drop('relay-request-invalid', hop.remote);
    const target = hostmap.get(m.relayToIp);
    if (!target) {
      // The initiator re-sends its request on each handshake retry; by then this tunnel may be up.
      this.deps.startHandshake(m.relayToIp);
      return;
    }
    // Only relay to peers reached directly: frames are not nested.
    if (!target.remote) return diag.drop('relay-target-relayed', hop.remote);

    let targetHalf = this.tableOf(target)?.get(hop.vpnIp);
    if (targetHalf && targetHalf.terminal) return diag.drop('relay-request-conflict', hop.remote);
    if (!targetHalf) {
      targetHalf = this.add(target, hop.vpnIp, { terminal: false, initiatedHere: false, state: 'requested', remoteIndex: 0 }) ?? undefined;
      if (!targetHalf) return diag.drop('relay-table-full', hop.remote);
    }
    // Asked again even when established, so a target that dropped its half restores it; requests
    // only come while an initiator sets a relay up, so this costs little.
    this.sendControl(target, { type: ControlType.CreateRelayRequest, initiatorRelayIndex: targetHalf.localIndex, responderRelayIndex: 0, relayFromIp: hop.vpnIp, relayToIp: target.vpnIp });

    let initiatorHalf = this.tableOf(hop)?.get(target.vpnIp);
    if (initiatorHalf && initiatorHalf.terminal) return diag.drop('relay-request-conflict', hop.remote);
    const state: RelayState = targetHalf.state === 'established' ? 'established' : 'peer-requested';
    if (!initiatorHalf) {
      initiatorHalf = this.add(hop, target.vpnIp, { terminal: false, initiatedHere: false, state, remoteIndex: m.initiatorRelayIndex }) ?? undefined;
      if (!initiatorHalf) return diag.drop('relay-table-full', hop.remote);
    } else {
      // A new index means the initiator forgot its old relay (restart, dead tunnel): follow it.
      initiatorHalf.remoteIndex = m.initiatorRelayIndex;
      if (initiatorHalf.state !== 'established') initiatorHalf.state = state;
    }
    if (initiatorHalf.state === 'established') this.respond(initiatorHalf, hop.vpnIp, target.vpnIp);
  }

  /** B: any request naming us as the target is accepted; a new index from the same peer replaces the old one. */
  private acceptAsTarget(hop: HostInfo, m: ControlMessage): void {
    let relay = this.tableOf(hop)?.get(m.relayFromIp);
    if (relay && !relay.terminal) return this.deps.diag.drop('relay-request-conflict', hop.remote);
    if (!relay) {
      relay = this.add(hop, m.relayFromIp, { terminal: true, initiatedHere: false, state: 'established', remoteIndex: m.initiatorRelayIndex }) ?? undefined;
      if (!relay) return this.deps.diag.drop('relay-table-full', hop.remote);
      this.deps.diag.limited('debug', `relay-accepted ${hop.vpnIp}`, { relay: formatVpnAddr(hop.vpnIp), from: formatVpnAddr(m.relayFromIp), localIndex: relay.localIndex }, 'accepted a relay to us');
    } else {
      relay.remoteIndex = m.initiatorRelayIndex;
      relay.state = 'established';
    }
    this.respond(relay, m.relayFromIp, this.deps.identity().vpnIp);
  }

  private handleResponse(hop: HostInfo, m: ControlMessage): void {
    const { hostmap, diag } = this.deps;
    const relay = this.byIndex.get(m.initiatorRelayIndex);
    // A forwarding half asks its target again on each new request (handleRequest), so it may hear twice.
    const expected = relay && relay.hop === hop && m.responderRelayIndex !== 0 && (relay.state === 'requested' || (!relay.terminal && relay.state === 'established'));
    if (!relay || !expected) return diag.drop('relay-response-unexpected', hop.remote);
    relay.remoteIndex = m.responderRelayIndex;
    if (relay.state === 'established') return;
    relay.state = 'established';
    diag.limited('debug', `relay-established ${hop.vpnIp}`, { relay: formatVpnAddr(hop.vpnIp), peer: formatVpnAddr(relay.peerIp), localIndex: relay.localIndex, remoteIndex: relay.remoteIndex }, 'relay established');
    if (relay.terminal) {
      // A: the handshake need not wait for its next retry.
      const pending = hostmap.getPending(relay.peerIp);
      if (pending?.pending) this.sendFrame(relay, pending.pending.message);
      return;
    }
    const initiatorHalf = this.partnerOf(relay);
    if (!initiatorHalf || initiatorHalf.state === 'established') return;
    initiatorHalf.state = 'established';
    this.respond(initiatorHalf, initiatorHalf.hop.vpnIp, hop.vpnIp);
  }

  /** The other half of a forwarding relay on R: on the tunnel to its peer, pointing back at this hop. */
  private partnerOf(relay: Relay): Relay | null {
    const otherHop = this.deps.hostmap.get(relay.peerIp);
    const partner = otherHop ? this.tableOf(otherHop)?.get(relay.hop.vpnIp) : undefined;
    return partner && !partner.terminal ? partner : null;
  }

  private terminalTo(vpnIp: VpnAddr): Relay | null {
    for (const [hop, table] of this.byHop) {
      const relay = table.get(vpnIp);
      if (relay?.terminal && relay.state === 'established' && hop.remote && this.deps.hostmap.get(hop.vpnIp) === hop) return relay;
    }
    return null;
  }

  private respond(relay: Relay, fromIp: VpnAddr, toIp: VpnAddr): void {
    this.sendControl(relay.hop, { type: ControlType.CreateRelayResponse, initiatorRelayIndex: relay.remoteIndex, responderRelayIndex: relay.localIndex, relayFromIp: fromIp, relayToIp: toIp });
  }

  private sendControl(hop: HostInfo, message: ControlMessage): void {
    // A v1 tunnel carries IPv4 addresses only; no relay between IPv6 addresses over it.
    if (hop.addrForm === 'v1' && (typeof message.relayFromIp !== 'number' || typeof message.relayToIp !== 'number')) {
      return this.deps.diag.drop('relay-ipv6-over-v1', hop.remote);
    }
    this.deps.sendOn(hop, MessageType.Control, 0, encodeControl(message, hop.addrForm));
  }

  private sendFrame(relay: Relay, inner: Uint8Array, out?: OutgoingDatagram[]): void {
    const hop = relay.hop;
    if (!hop.encrypt || !hop.remote) return;
    this.deps.transmit(hop, sealRelayFrame(hop.encrypt, relay.remoteIndex, ++hop.messageCounter, inner), out);
  }

  private tableOf(hop: HostInfo): Map<VpnAddr, Relay> | undefined {
    return this.byHop.get(hop);
  }

  private add(hop: HostInfo, peerIp: VpnAddr, fields: Pick<Relay, 'terminal' | 'initiatedHere' | 'state' | 'remoteIndex'>): Relay | null {
    let table = this.byHop.get(hop);
    if (table && table.size >= MAX_RELAYS_PER_HOP && !this.evictIdle(table)) return null;
    if (this.byIndex.size >= MAX_RELAYS) return null;
    const localIndex = this.allocateIndex();
    if (localIndex === null) return null;
    if (!table) {
      table = new Map();
      this.byHop.set(hop, table);
    }
    const relay: Relay = { localIndex, hop, peerIp, ...fields };
    table.set(peerIp, relay);
    this.byIndex.set(localIndex, relay);
    return relay;
  }

  /**
   * Frees one slot in a full table: the oldest relay not set up yet (its requester retries) or
   * ending here for a peer we have no tunnel with.
   */
  private evictIdle(table: Map<VpnAddr, Relay>): boolean {
    for (const relay of table.values()) {
      if (relay.state !== 'established' || (relay.terminal && !this.deps.hostmap.get(relay.peerIp))) {
        this.removeWithPartner(relay);
        return true;
      }
    }
    return false;
  }

  private removeWithPartner(relay: Relay): void {
    if (!relay.terminal) {
      const partner = this.partnerOf(relay);
      if (partner) this.remove(partner);
    }
    this.remove(relay);
  }

  private remove(relay: Relay): void {
    if (this.byIndex.get(relay.localIndex) === relay) this.byIndex.delete(relay.localIndex);
    const table = this.byHop.get(relay.hop);
    if (table?.get(relay.peerIp) === relay) {
      table.delete(relay.peerIp);
      if (table.size === 0) this.byHop.delete(relay.hop);
    }
  }

  /** A random non-zero 32-bit index unused by any relay (relay indices are their own namespace). */
  private allocateIndex(): number | null {
    for (let attempt = 0; attempt < 32; attempt++) {
      const index = randomBytes(4).readUInt32BE(0);
      if (index !== 0 && !this.byIndex.has(index)) return index;
    }
    return null;
  }
}
