import { randomBytes } from 'node:crypto';
import type { Certificate } from '../../pki/cert.js';
import type { Endpoint } from '../net/endpoint.js';
import type { VpnAddr } from '../net/ip.js';
import type { Aead } from '../protocol/aead.js';
import type { AddrForm } from '../protocol/messages.js';
import type { InitiatorState } from '../protocol/noise.js';
import { REPLAY_WINDOW, ReplayWindow } from '../protocol/replay.js';
import type { PeerIdentity } from './firewall.js';
import { RemoteList } from './remote-list.js';
import type { Timer } from './timers.js';

/** Packets waiting for a tunnel, per host (Nebula keeps at most 100). */
export const MAX_QUEUED_PACKETS = 100;

export interface QueuedMessage {
  type: number;
  subtype: number;
  payload: Buffer;
}

export interface PendingHandshake {
  state: InitiatorState;
  /** Message 1 exactly as first sent: retransmissions must be byte-identical. */
  message: Buffer;
  attempts: number;
  timer: Timer | null;
  /** Only the peer's direct addresses, never relays (trying to replace a relayed tunnel by a direct one). */
  directOnly?: boolean;
}

/**
 * A tunnel's state the native fast path shares (native/src/fastpath.h, TunnelShared): the replay
 * window's 1024 bits (128 bytes), then float64 fields: window current and zero-seen, the send
 * counter, rx packets/bytes, tx packets/bytes, the inbound and outbound liveness marks.
 */
export const TUNNEL_SHARED_BYTES = 128 + 9 * 8;
// Indexes of the float64 fields after the window bits; [0] and [1] are the window's own.
const TX_COUNTER = 2;
const RX_PACKETS = 3;
const RX_BYTES = 4;
const TX_PACKETS = 5;
const TX_BYTES = 6;
const INBOUND_SEEN = 7;
const OUTBOUND_SEEN = 8;

/** One peer: a tunnel being set up (pending) or established. */
export class HostInfo {
  remoteIndex = 0;
  /** The underlay address traffic currently goes to. */
  remote: Endpoint | null = null;
  /** The address we roamed away from, and when, to suppress flapping back within 2 s. */
  previousRemote: { addr: Endpoint; at: number } | null = null;
  cert: Certificate | null = null;
  identity: PeerIdentity | null = null;
  encrypt: Aead | null = null;
  decrypt: Aead | null = null;
  /** Memory shared with the native fast path, which forwards established flows without JS (TUNNEL_SHARED_BYTES). */
  readonly shared = new ArrayBuffer(TUNNEL_SHARED_BYTES);
  private readonly fields = new Float64Array(this.shared, 128, 9);
  readonly window = new ReplayWindow(REPLAY_WINDOW, { slots: new Uint32Array(this.shared, 0, REPLAY_WINDOW / 32), state: this.fields });
  /**
   * Responder side: message 1 body (after the header) as received, to recognise retransmissions;
   * kept until the peer's first authenticated packet (`heard`).
   */
  handshakeMessage1: Buffer | null = null;
  /** Responder side: our full message 2, re-sent for a retransmitted message 1; kept as long as message 1. */
  handshakeMessage2: Buffer | null = null;
  /** The peer's clock in its handshake (Unix ns); a newer handshake replaces this tunnel. */
  lastHandshakeTime = 0n;
  recvErrors = 0;
  /** A newer tunnel waiting for the peer's traffic next to the established one (HostMap.addCandidate). */
  candidate = false;
  /** Messages waiting for the tunnel (data packets, lighthouse updates, tests). */
  queue: QueuedMessage[] = [];
  pending: PendingHandshake | null = null;
  /** Connection manager state. */
  livenessTimer: Timer | null = null;
  testSentAt = 0;
  /** Round trip of the last answered test request (ms; ConnectionManager.onTestReply, `mesh ping`); null until one is. */
  lastRttMs: number | null = null;
  readonly createdAt = Date.now();
  /** When the tunnel last came up (handshake completed or candidate promoted), ms since the epoch. */
  establishedAt = 0;
  /**
   * Every overlay address of the peer (its certificate's networks), vpnIp first; the host map indexes
   * the tunnel by each. Just [vpnIp] until the certificate is known.
   */
  vpnAddrs: readonly VpnAddr[];
  constructor(
    /**
     * The address the tunnel was asked for; when the handshake completes, the peer's first
     * certificate address (HandshakeManager re-keys it before the tunnel enters the host map).
     */
    public vpnIp: VpnAddr,
    readonly localIndex: number,
    readonly remotes: RemoteList,
  ) {
    this.vpnAddrs = [vpnIp];
    this.fields[TX_COUNTER] = 2;
  }

  /** Last counter used on send; the first transport packet carries 3. */
  get messageCounter(): number {
    return this.fields[TX_COUNTER]!;
  }
  set messageCounter(value: number) {
    this.fields[TX_COUNTER] = value;
  }

  /** Traffic on this tunnel, in datagrams and their bytes on the wire (the fast path's included). */
  get rxPackets(): number {
    return this.fields[RX_PACKETS]!;
  }
  set rxPackets(value: number) {
    this.fields[RX_PACKETS] = value;
  }
  get rxBytes(): number {
    return this.fields[RX_BYTES]!;
  }
  set rxBytes(value: number) {
    this.fields[RX_BYTES] = value;
  }
  get txPackets(): number {
    return this.fields[TX_PACKETS]!;
  }
  set txPackets(value: number) {
    this.fields[TX_PACKETS] = value;
  }
  get txBytes(): number {
    return this.fields[TX_BYTES]!;
  }
  set txBytes(value: number) {
    this.fields[TX_BYTES] = value;
  }

  /** Connection manager state: traffic seen since its last check (the fast path marks it too). */
  get inboundSeen(): boolean {
    return this.fields[INBOUND_SEEN] !== 0;
  }
  set inboundSeen(value: boolean) {
    this.fields[INBOUND_SEEN] = value ? 1 : 0;
  }
  get outboundSeen(): boolean {
    return this.fields[OUTBOUND_SEEN] !== 0;
  }
  set outboundSeen(value: boolean) {
    this.fields[OUTBOUND_SEEN] = value ? 1 : 0;
  }

  /** The address fields lighthouse and relay messages use on this tunnel: those of its certificate version. */
  get addrForm(): AddrForm {
    return this.cert?.details.version === 2 ? 'v2' : 'v1';
  }

  get established(): boolean {
    return this.encrypt !== null && this.pending === null;
  }

  /**
   * The peer sent authenticated traffic on this tunnel, so it has read our message 2: a message 1
   * it sends now is no retransmission, and the copies go (about 1 KB a tunnel; a lighthouse holds
   * 100,000 tunnels). Such a message 1 is then answered as a stale handshake: a test on the tunnel.
   */
  heard(): void {
    this.handshakeMessage1 = this.handshakeMessage2 = null;
  }

  /** Queues a message for when the tunnel is up; drops the oldest beyond the limit. */
  enqueue(type: number, subtype: number, payload: Uint8Array): void {
    if (this.queue.length >= MAX_QUEUED_PACKETS) this.queue.shift();
    this.queue.push({ type, subtype, payload: Buffer.from(payload) });
  }
}

/**
 * All tunnels by overlay IP and by local index, plus the pending handshakes (kept apart so that a
 * half-made tunnel never carries data).
 */
export class HostMap {
  private readonly byVpnIp = new Map<VpnAddr, HostInfo>();
  /** Established tunnels by their other addresses (all but vpnIp; empty for single-address peers). */
  private readonly byOtherAddr = new Map<VpnAddr, HostInfo>();
  private readonly byIndex = new Map<number, HostInfo>();
  private readonly pendingByVpnIp = new Map<VpnAddr, HostInfo>();
  private readonly pendingByIndex = new Map<number, HostInfo>();
  /** Established tunnels by the peer's index, for recv_error (which names the index we send to). */
  private readonly byRemoteIndex = new Map<number, HostInfo>();
  /**
   * Responder tunnels from a newer handshake while an established one exists. Message 1 proves
   * nothing (anyone who saw a certificate can replay or forge it), so such a tunnel takes over only
   * once the peer sends authenticated traffic on it, or when the old tunnel dies.
   */
  private readonly candidates = new Map<VpnAddr, HostInfo>();
  /** Remote lists outlive tunnels: static and lighthouse addresses stay known across reconnects. */
  private readonly remoteLists = new Map<VpnAddr, RemoteList>();

  constructor(private readonly newRemoteList: () => RemoteList = () => new RemoteList()) {}

  remotesFor(vpnIp: VpnAddr): RemoteList {
    let list = this.remoteLists.get(vpnIp);
    if (!list) {
      list = this.newRemoteList();
      this.remoteLists.set(vpnIp, list);
    }
    return list;
  }

  peekRemotes(vpnIp: VpnAddr): RemoteList | undefined {
    return this.remoteLists.get(vpnIp);
  }

  /** Overlay IPs whose remote list has static_host_map addresses. */
  staticHostIps(): VpnAddr[] {
    return [...this.remoteLists].filter(([, list]) => list.hasStatic).map(([vpnIp]) => vpnIp);
  }

  forgetRemotes(vpnIp: VpnAddr): void {
    const list = this.remoteLists.get(vpnIp);
    if (!list) return;
    if (list.hasStatic) list.resetDynamic();
    else this.remoteLists.delete(vpnIp);
  }

  /** A random non-zero 32-bit index unused by any tunnel or pending handshake. */
  allocateIndex(): number {
    for (let attempt = 0; attempt < 32; attempt++) {
      const index = randomBytes(4).readUInt32BE(0);
      if (index !== 0 && !this.byIndex.has(index) && !this.pendingByIndex.has(index)) return index;
    }
    throw new Error('could not allocate a free local index');
  }

  indexInUse(index: number): boolean {
    return this.byIndex.has(index) || this.pendingByIndex.has(index);
  }

  /** The established tunnel to the host owning `addr` (any of its addresses). */
  get(addr: VpnAddr): HostInfo | undefined {
    return this.byVpnIp.get(addr) ?? (this.byOtherAddr.size === 0 ? undefined : this.byOtherAddr.get(addr));
  }

  getByIndex(index: number): HostInfo | undefined {
    return this.byIndex.get(index);
  }

  getPending(vpnIp: VpnAddr): HostInfo | undefined {
    return this.pendingByVpnIp.get(vpnIp);
  }

  getPendingByIndex(index: number): HostInfo | undefined {
    return this.pendingByIndex.get(index);
  }

  /** Finds an established tunnel by the index the peer uses (the one we put in our headers). */
  getByRemoteIndex(remoteIndex: number): HostInfo | undefined {
    return this.byRemoteIndex.get(remoteIndex);
  }

  addPending(host: HostInfo): void {
    this.pendingByVpnIp.set(host.vpnIp, host);
    this.pendingByIndex.set(host.localIndex, host);
  }

  removePending(host: HostInfo): void {
    if (this.pendingByVpnIp.get(host.vpnIp) === host) this.pendingByVpnIp.delete(host.vpnIp);
    if (this.pendingByIndex.get(host.localIndex) === host) this.pendingByIndex.delete(host.localIndex);
    host.pending?.timer?.cancel();
  }

  /** Installs an established tunnel, returning the one it replaced (if any). */
  add(host: HostInfo): HostInfo | undefined {
    const previous = this.byVpnIp.get(host.vpnIp);
    if (previous && previous !== host) {
      this.unindex(previous);
      this.unindexOtherAddrs(previous);
    }
    this.byVpnIp.set(host.vpnIp, host);
    for (let i = 1; i < host.vpnAddrs.length; i++) this.byOtherAddr.set(host.vpnAddrs[i]!, host);
    this.byIndex.set(host.localIndex, host);
    this.byRemoteIndex.set(host.remoteIndex, host);
    return previous !== host ? previous : undefined;
  }

  /** Registers a candidate tunnel (see `candidates`), dropping an older candidate for that peer. */
  addCandidate(host: HostInfo): void {
    const previous = this.candidates.get(host.vpnIp);
    if (previous && previous !== host) this.removeCandidate(previous);
    this.candidates.set(host.vpnIp, host);
    host.candidate = true;
    this.byIndex.set(host.localIndex, host);
  }

  getCandidate(vpnIp: VpnAddr): HostInfo | undefined {
    return this.candidates.get(vpnIp);
  }

  isCandidate(host: HostInfo): boolean {
    return host.candidate;
  }

  removeCandidate(host: HostInfo): void {
    if (!host.candidate) return;
    host.candidate = false;
    this.candidates.delete(host.vpnIp);
    this.unindex(host);
  }

  /** Turns a candidate into the established tunnel; the caller then treats it as a new tunnel. */
  takeCandidate(host: HostInfo): boolean {
    if (!host.candidate) return false;
    host.candidate = false;
    this.candidates.delete(host.vpnIp);
    host.livenessTimer?.cancel();
    host.livenessTimer = null;
    return true;
  }

  remove(host: HostInfo): boolean {
    if (this.isCandidate(host)) {
      this.removeCandidate(host);
      return false;
    }
    const current = this.byVpnIp.get(host.vpnIp) === host;
    if (current) {
      this.byVpnIp.delete(host.vpnIp);
      this.unindexOtherAddrs(host);
    }
    this.unindex(host);
    return current;
  }

  private unindexOtherAddrs(host: HostInfo): void {
    for (let i = 1; i < host.vpnAddrs.length; i++) if (this.byOtherAddr.get(host.vpnAddrs[i]!) === host) this.byOtherAddr.delete(host.vpnAddrs[i]!);
  }

  private unindex(host: HostInfo): void {
    if (this.byIndex.get(host.localIndex) === host) this.byIndex.delete(host.localIndex);
    if (this.byRemoteIndex.get(host.remoteIndex) === host) this.byRemoteIndex.delete(host.remoteIndex);
    host.livenessTimer?.cancel();
    host.livenessTimer = null;
  }

  hosts(): IterableIterator<HostInfo> {
    return this.byVpnIp.values();
  }

  candidateHosts(): IterableIterator<HostInfo> {
    return this.candidates.values();
  }

  pendingHosts(): IterableIterator<HostInfo> {
    return this.pendingByVpnIp.values();
  }

  get size(): number {
    return this.byVpnIp.size;
  }

  get pendingSize(): number {
    return this.pendingByVpnIp.size;
  }

  /** Hosts with a remote list (bounded: tests check that remote input cannot grow it). */
  get remoteListCount(): number {
    return this.remoteLists.size;
  }
}
