import type { Datagram, Endpoint } from '../io/udp.js';
import { formatIp } from '../net/ipv4.js';
import { MessageSubType, MessageType, parseHeader, type Header } from '../protocol/header.js';
import { looksLikeStun } from '../protocol/stun.js';
import type { HostInfo } from './hostmap.js';
import type { MeshNode } from './node.js';
import { sameEndpoint } from './remote-list.js';

/** recv_errors tolerated before a tunnel is torn down (Nebula: the 4th one counts). */
const RECV_ERROR_LIMIT = 3;

/**
 * Datagrams from the UDP socket, dispatched by header type. Every failure is a counted, silent
 * drop: nothing a remote sends can throw out of here.
 */
export function consumeDatagrams(node: MeshNode, batch: Datagram[]): void {
  const toTun: Buffer[] = [];
  for (const { data, from } of batch) {
    node.stats.rxPackets++;
    try {
      consumeDatagram(node, data, from, toTun);
    } catch (err) {
      node.drop('exception', from, err);
    }
  }
  if (toTun.length > 0) node.tun.write(toTun);
}

/**
 * The inner packet of a relay frame for this node (we are A or B): processed as if it had arrived
 * directly, but with no underlay address: no roaming, no recv_error, replies go back through `hop`.
 */
export function consumeRelayedPacket(node: MeshNode, data: Buffer, hop: HostInfo, toTun: Buffer[]): void {
  const header = parseHeader(data);
  if (!header) return node.drop('relayed-short', null);
  switch (header.type) {
    case MessageType.Handshake:
      if (header.subtype !== MessageSubType.IxPsk0) return node.drop('handshake-subtype', null);
      if (header.counter === 1) return node.handshakes.handleStage1(data, null, hop);
      if (header.counter === 2) return node.handshakes.handleStage2(data, header, null, hop);
      return node.drop('handshake-stage', null);
    case MessageType.Message:
      if (header.subtype !== MessageSubType.None) return node.drop('relayed-subtype', null);
      return receiveData(node, data, header, null, toTun);
    case MessageType.LightHouse:
    case MessageType.Test:
    case MessageType.Control:
    case MessageType.CloseTunnel:
      return receiveControl(node, data, header, null);
    default:
      return node.drop('relayed-type', null);
  }
}

function consumeDatagram(node: MeshNode, data: Buffer, from: Endpoint, toTun: Buffer[]): void {
  if (looksLikeStun(data)) return node.onStun(data, from);
  const header = parseHeader(data);
  if (!header) {
    // 1-byte datagrams are Nebula's hole punches (0x00) and punchy keepalives (0x01).
    node.drop(data.length === 1 ? 'punch' : 'short', from);
    return;
  }
  // A datagram from inside our own overlay network would be a tunnel inside the tunnel.
  if (node.isOverlayAddress(from.address)) {
    node.drop('from-overlay', from);
    return;
  }
  switch (header.type) {
    case MessageType.Handshake:
      if (header.subtype !== MessageSubType.IxPsk0) return node.drop('handshake-subtype', from);
      if (header.counter === 1) return node.handshakes.handleStage1(data, from);
      if (header.counter === 2) return node.handshakes.handleStage2(data, header, from);
      return node.drop('handshake-stage', from);
    case MessageType.Message:
      if (header.subtype === MessageSubType.Relay) return node.relays.receiveFrame(data, header, from, toTun);
      if (header.subtype !== MessageSubType.None) return node.drop('message-subtype', from);
      return receiveData(node, data, header, from, toTun);
    case MessageType.RecvError:
      return receiveRecvError(node, header, from);
    case MessageType.LightHouse:
    case MessageType.Test:
    case MessageType.Control:
    case MessageType.CloseTunnel:
      return receiveControl(node, data, header, from);
    default:
      return node.drop('unknown-type', from);
  }
}

/** Looks the tunnel up and checks the replay window; on failure answers with recv_error as Nebula does. */
function tunnelFor(node: MeshNode, header: Header, from: Endpoint | null): HostInfo | null {
  const host = node.hostmap.getByIndex(header.remoteIndex);
  if (!host || !host.decrypt) {
    node.drop('unknown-index', from);
    if (from) node.sendRecvError(from, header.remoteIndex);
    return null;
  }
  if (!host.window.check(header.counter)) {
    node.drop('replay', from);
    if (from) node.sendRecvError(from, header.remoteIndex);
    return null;
  }
  return host;
}

function decrypt(node: MeshNode, host: HostInfo, data: Buffer, header: Header, from: Endpoint | null): Buffer | null {
  const plaintext = host.decrypt!.decryptPacket(data, header.counter);
  if (!plaintext) {
    node.drop('bad-tag', from);
    return null;
  }
  if (!host.window.update(header.counter)) {
    node.drop('replay', from);
    return null;
  }
  if (node.hostmap.isCandidate(host)) node.promoteCandidate(host, 'the peer sent traffic on it');
  if (from) node.roam(host, from);
  node.connections.inbound(host);
  return plaintext;
}

function receiveData(node: MeshNode, data: Buffer, header: Header, from: Endpoint | null, toTun: Buffer[]): void {
  const host = tunnelFor(node, header, from);
  if (!host) return;
  const packet = decrypt(node, host, data, header, from);
  if (!packet) return;
  const reason = node.firewall.inbound(packet, host.identity!);
  if (reason) {
    node.firewallDrop('inbound', reason, host);
    return;
  }
  toTun.push(packet);
}

function receiveControl(node: MeshNode, data: Buffer, header: Header, from: Endpoint | null): void {
  const host = tunnelFor(node, header, from);
  if (!host) return;
  // Nebula 1.6 does not authenticate closeTunnel; we do, which still accepts every genuine one.
  const payload = decrypt(node, host, data, header, from);
  if (!payload) return;
  switch (header.type) {
    case MessageType.Test:
      if (header.subtype === MessageSubType.TestRequest) node.sendOn(host, MessageType.Test, MessageSubType.TestReply, payload);
      return;
    case MessageType.CloseTunnel:
      node.log.info({ vpnIp: formatIp(host.vpnIp), index: host.localIndex }, 'peer closed the tunnel');
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
function receiveRecvError(node: MeshNode, header: Header, from: Endpoint): void {
  const host = node.hostmap.getByRemoteIndex(header.remoteIndex);
  if (!host) return node.drop('recv-error-unknown', from);
  host.recvErrors++;
  if (host.recvErrors <= RECV_ERROR_LIMIT || !sameEndpoint(host.remote, from)) return;
  node.log.info({ vpnIp: formatIp(host.vpnIp), from: `${from.address}:${from.port}` }, 'peer lost our tunnel (recv_error), removing it');
  node.removeTunnel(host, false);
}
