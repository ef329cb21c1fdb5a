import type { Datagram } from '../io/udp.js';
import { sameEndpoint, type Endpoint } from '../net/endpoint.js';
import { formatVpnAddr } from '../net/ip.js';
import { HEADER_LEN, MessageSubType, MessageType, parseHeader, type Header } from '../protocol/header.js';
import { looksLikeStun } from '../protocol/stun.js';
import { AeadBatchArrays } from './aead-batch.js';
import type { Diagnostics } from './diagnostics.js';
import type { Firewall } from './firewall.js';
import type { HandshakeManager } from './handshake-manager.js';
import type { HostInfo, HostMap } from './hostmap.js';
import type { RelayManager } from './relay-manager.js';

/** What the outside path (socket → tunnels → TUN) needs from its node. */
export interface OutsideNode {
  readonly diag: Diagnostics;
  readonly hostmap: HostMap;
  readonly handshakes: Pick<HandshakeManager, 'admitStage1' | 'handleStage1' | 'handleStage2'>;
  readonly relays: Pick<RelayManager, 'receiveFrame'>;
  readonly firewall: Pick<Firewall, 'inbound'>;
  writeToTun(packets: Buffer[]): void;
  /** The firewall allowed a packet on `host`: the fast path may take the flow's next ones. */
  flowApproved?(host: HostInfo): void;
  onStun(data: Buffer, from: Endpoint): void;
  isOverlayAddress(address: string): boolean;
  sendRecvError(to: Endpoint, remoteIndex: number): void;
  promoteCandidate(host: HostInfo, why: string): void;
  /** An authenticated packet arrived on `host` (from `from`, or through a relay): roaming, liveness. */
  heardFrom(host: HostInfo, from: Endpoint | null): void;
  sendOn(host: HostInfo, type: number, subtype: number, payload: Uint8Array): void;
  removeTunnel(host: HostInfo, notify: boolean): void;
  onLighthouseMessage(host: HostInfo, payload: Buffer): void;
  onControlMessage(host: HostInfo, payload: Buffer): void;
  onTestReply(host: HostInfo, payload: Buffer): void;
}

/** recv_errors tolerated before a tunnel is torn down (Nebula: the 4th one counts). */
const RECV_ERROR_LIMIT = 3;

/**
 * Handshake message 1s one batch handles at most, after its other datagrams: each costs a certificate
 * check (and a genuine one three X25519 operations), so a flood of them must not delay established
 * tunnels. Only message 1s their source address's rate admits take a slot, so that a flood from a few
 * addresses does not crowd out other initiators. The rest are dropped (`handshake1-overload`);
 * genuine initiators retry.
 */
export const STAGE1_PER_BATCH = 16;

/**
 * Datagrams from the UDP socket, dispatched by header type. Every failure is a counted, silent
 * drop: nothing a remote sends can throw out of here.
 */
export function consumeDatagrams(node: OutsideNode, batch: Datagram[]): void {
  const toTun: Buffer[] = [];
  const stage1: Datagram[] = [];
  const pending: PendingData[] = [];
  for (const { data, from } of batch) {
    node.diag.stats.rxPackets++;
    node.diag.stats.rxBytes += data.length;
    try {
      consumeDatagram(node, data, from, toTun, stage1, pending);
    } catch (err) {
      node.diag.drop('exception', from, err);
    }
  }
  openPending(node, pending, toTun);
  if (toTun.length > 0) node.writeToTun(toTun);
  for (const { data, from } of stage1) {
    try {
      node.handshakes.handleStage1(data, from);
    } catch (err) {
      node.diag.drop('exception', from, err);
    }
  }
}

/**
 * The inner packet of a relay frame for this node (we are A or B): processed as if it had arrived
 * directly, but with no underlay address: no roaming, no recv_error, replies go back through `hop`.
 */
export function consumeRelayedPacket(node: OutsideNode, data: Buffer, hop: HostInfo, toTun: Buffer[]): void {
  const header = parseHeader(data);
  if (!header) return node.diag.drop('relayed-short', null);
  switch (header.type) {
    case MessageType.Handshake:
      if (header.subtype !== MessageSubType.IxPsk0) return node.diag.drop('handshake-subtype', null);
      if (header.counter === 1) return node.handshakes.handleStage1(data, null, hop);
      if (header.counter === 2) return node.handshakes.handleStage2(data, header, null);
      return node.diag.drop('handshake-stage', null);
    case MessageType.Message:
      if (header.subtype !== MessageSubType.None) return node.diag.drop('relayed-subtype', null);
      return receiveData(node, data, header, null, toTun);
    case MessageType.LightHouse:
    case MessageType.Test:
    case MessageType.Control:
    case MessageType.CloseTunnel:
      return receiveControl(node, data, header, null);
    default:
      return node.diag.drop('relayed-type', null);
  }
}

function consumeDatagram(node: OutsideNode, data: Buffer, from: Endpoint, toTun: Buffer[], stage1: Datagram[], pending: PendingData[]): void {
  if (looksLikeStun(data)) return node.onStun(data, from);
  const header = parseHeader(data);
  if (!header) {
    // 1-byte datagrams are Nebula's hole punches (0x00) and punchy keepalives (0x01).
    node.diag.drop(data.length === 1 ? 'punch' : 'short', from);
    return;
  }
  node.diag.stats.rxByType[header.type]++;
  // A datagram from inside our own overlay network would be a tunnel inside the tunnel.
  if (node.isOverlayAddress(from.address)) {
    node.diag.drop('from-overlay', from);
    return;
  }
  if (header.type === MessageType.Message && header.subtype === MessageSubType.None) return queueData(node, data, header, from, pending);
  // Anything else may change tunnels: the data before it is handled first, in arrival order.
  openPending(node, pending, toTun);
  switch (header.type) {
    case MessageType.Handshake:
      if (header.subtype !== MessageSubType.IxPsk0) return node.diag.drop('handshake-subtype', from);
      if (header.counter === 1) {
        if (stage1.length >= STAGE1_PER_BATCH) return node.diag.drop('handshake1-overload', from);
        if (node.handshakes.admitStage1(from)) stage1.push({ data, from });
        return;
      }
      if (header.counter === 2) return node.handshakes.handleStage2(data, header, from);
      return node.diag.drop('handshake-stage', from);
    case MessageType.Message:
      if (header.subtype === MessageSubType.Relay) return node.relays.receiveFrame(data, header, from, toTun);
      return node.diag.drop('message-subtype', from);
    case MessageType.RecvError:
      return receiveRecvError(node, header, from);
    case MessageType.LightHouse:
    case MessageType.Test:
    case MessageType.Control:
    case MessageType.CloseTunnel:
      return receiveControl(node, data, header, from);
    default:
      return node.diag.drop('unknown-type', from);
  }
}

/** Looks the tunnel up and checks the replay window; on failure answers with recv_error as Nebula does. */
function tunnelFor(node: OutsideNode, header: Header, from: Endpoint | null): HostInfo | null {
  const host = node.hostmap.getByIndex(header.remoteIndex);
  if (!host || !host.decrypt) {
    node.diag.drop('unknown-index', from);
    if (from) node.sendRecvError(from, header.remoteIndex);
    return null;
  }
  if (!host.window.check(header.counter)) {
    node.diag.drop('replay', from);
    if (from) node.sendRecvError(from, header.remoteIndex);
    return null;
  }
  return host;
}

function decrypt(node: OutsideNode, host: HostInfo, data: Buffer, header: Header, from: Endpoint | null): Buffer | null {
  const plaintext = host.decrypt!.decryptPacket(data, header.counter);
  if (!plaintext) {
    node.diag.drop('bad-tag', from);
    return null;
  }
  return authenticated(node, host, data, header.counter, from) ? plaintext : null;
}

/** A datagram of `host` authenticated: the replay window moves, and it counts as traffic from `from`. */
function authenticated(node: OutsideNode, host: HostInfo, data: Buffer, counter: number, from: Endpoint | null): boolean {
  if (!host.window.update(counter)) {
    node.diag.drop('replay', from);
    return false;
  }
  host.rxPackets++;
  host.rxBytes += data.length;
  if (host.candidate) node.promoteCandidate(host, 'the peer sent traffic on it');
  node.heardFrom(host, from);
  return true;
}

/** Relayed data, opened on its own. */
function receiveData(node: OutsideNode, data: Buffer, header: Header, from: Endpoint | null, toTun: Buffer[]): void {
  const host = tunnelFor(node, header, from);
  if (!host) return;
  const packet = decrypt(node, host, data, header, from);
  if (packet) deliverData(node, host, packet, toTun);
}

function deliverData(node: OutsideNode, host: HostInfo, packet: Buffer, toTun: Buffer[]): void {
  const reason = node.firewall.inbound(packet, host.identity!);
  if (reason) {
    node.diag.firewallDrop('inbound', reason, host.vpnIp);
    return;
  }
  node.flowApproved?.(host);
  toTun.push(packet);
}

/** A data message that passed the tunnel lookup and replay check, to be opened with its tunnel's others. */
interface PendingData {
  host: HostInfo;
  data: Buffer;
  counter: number;
  from: Endpoint;
}

const openArrays = new AeadBatchArrays();

function queueData(node: OutsideNode, data: Buffer, header: Header, from: Endpoint, pending: PendingData[]): void {
  const host = tunnelFor(node, header, from);
  if (host) pending.push({ host, data, counter: header.counter, from });
}

/**
 * Opens the queued data messages in place (the plaintext lands right after the header), one AEAD
 * call per tunnel and received buffer; then the replay window, roaming and the inbound firewall
 * per packet, in arrival order within each tunnel. Empties `pending`.
 */
function openPending(node: OutsideNode, pending: PendingData[], toTun: Buffer[]): void {
  if (pending.length === 0) return;
  const byHost = new Map<HostInfo, PendingData[]>();
  for (const p of pending) {
    const list = byHost.get(p.host);
    if (list) list.push(p);
    else byHost.set(p.host, [p]);
  }
  pending.length = 0;
  for (const [host, list] of byHost) {
    for (let i = 0; i < list.length; ) {
      const buffer = list[i]!.data.buffer;
      let end = i + 1;
      while (end < list.length && list[end]!.data.buffer === buffer) end++;
      try {
        openRun(node, host, list, i, end, buffer, toTun);
      } catch (err) {
        node.diag.drop('exception', list[i]!.from, err);
      }
      i = end;
    }
  }
}

/** list[from, to) share one ArrayBuffer: one openBatch call. */
function openRun(node: OutsideNode, host: HostInfo, list: PendingData[], from: number, to: number, buffer: ArrayBufferLike, toTun: Buffer[]): void {
  const n = to - from;
  const { offsets, lengths, results } = openArrays.reserve(n);
  for (let k = 0; k < n; k++) {
    const { data } = list[from + k]!;
    offsets[k] = data.byteOffset;
    lengths[k] = data.length;
  }
  host.decrypt!.openBatch(new Uint8Array(buffer), offsets, lengths, n, results);
  for (let k = 0; k < n; k++) {
    const item = list[from + k]!;
    const length = results[k]!;
    try {
      if (length < 0) node.diag.drop('bad-tag', item.from);
      else if (authenticated(node, host, item.data, item.counter, item.from)) deliverData(node, host, item.data.subarray(HEADER_LEN, HEADER_LEN + length), toTun);
    } catch (err) {
      node.diag.drop('exception', item.from, err);
    }
  }
}

function receiveControl(node: OutsideNode, data: Buffer, header: Header, from: Endpoint | null): void {
  const host = tunnelFor(node, header, from);
  if (!host) return;
  // Nebula 1.6 does not authenticate closeTunnel; we do, which still accepts every genuine one.
  const payload = decrypt(node, host, data, header, from);
  if (!payload) return;
  switch (header.type) {
    case MessageType.Test:
      if (header.subtype === MessageSubType.TestRequest) node.sendOn(host, MessageType.Test, MessageSubType.TestReply, payload);
      else if (header.subtype === MessageSubType.TestReply) node.onTestReply(host, payload);
      return;
    case MessageType.CloseTunnel:
      node.diag.limited('info', `closed ${host.vpnIp}`, { vpnIp: formatVpnAddr(host.vpnIp), index: host.localIndex }, 'peer closed the tunnel');
      // A peer that shuts down sends no traffic on any newer tunnel either.
      {
        const candidate = node.hostmap.getCandidate(host.vpnIp);
        if (candidate && candidate !== host) node.hostmap.removeCandidate(candidate);
      }
      node.removeTunnel(host, false);
      return;
    case MessageType.LightHouse:
      node.onLighthouseMessage(host, payload);
      return;
    case MessageType.Control:
      node.onControlMessage(host, payload);
      return;
  }
}

/**
 * recv_error is unauthenticated: it names the index we send to. Nebula ignores the first three and
 * drops the tunnel on the fourth if it comes from the tunnel's current address.
 */
function receiveRecvError(node: OutsideNode, header: Header, from: Endpoint): void {
  const host = node.hostmap.getByRemoteIndex(header.remoteIndex);
  if (!host) return node.diag.drop('recv-error-unknown', from);
  host.recvErrors++;
  if (host.recvErrors <= RECV_ERROR_LIMIT || !sameEndpoint(host.remote, from)) return;
  node.diag.limited('info', `recv-error ${host.vpnIp}`, { vpnIp: formatVpnAddr(host.vpnIp), from: `${from.address}:${from.port}` }, 'peer lost our tunnel (recv_error), removing it');
  node.removeTunnel(host, false);
}
