import { formatIp } from '../net/ipv4.js';
import type { Endpoint } from '../io/udp.js';
import { HEADER_LEN, MessageType, writeHeader, type Header } from '../protocol/header.js';
import { decodeHandshake, encodeHandshake, type HandshakeDetails } from '../protocol/messages.js';
import { initiatorReadMessage2, initiatorWriteMessage1, responderReadMessage1, responderWriteMessage2, type HandshakeKeys } from '../protocol/noise.js';
import { HostInfo } from './hostmap.js';
import { endpointKey } from './remote-list.js';
import type { MeshNode } from './node.js';

/** Wall clock in Unix nanoseconds, as Nebula puts it in handshakes (microsecond resolution is plenty). */
export function unixNanos(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** A try for a direct path next to a relayed tunnel is short: the relay keeps carrying the traffic. */
const DIRECT_ONLY_ATTEMPTS = 3;

function handshakeHeader(remoteIndex: number, stage: number): Buffer {
  const header = Buffer.alloc(HEADER_LEN);
  writeHeader(header, 0, MessageType.Handshake, 0, remoteIndex, stage);
  return header;
}

/**
 * Noise IX handshakes as Nebula 1.6 runs them: the initiator retransmits one cached message 1 to
 * every known address with linear backoff; the responder answers at once, recognises
 * retransmissions by their bytes, prefers the newer of two handshakes by the peer's clock, and
 * settles simultaneous opens in favour of the higher overlay IP.
 */
export class HandshakeManager {
  constructor(private readonly node: MeshNode) {}

  /** The pending or new outbound handshake to `vpnIp`. */
  start(vpnIp: number, options: { directOnly?: boolean } = {}): HostInfo {
    const hostmap = this.node.hostmap;
    const existing = hostmap.getPending(vpnIp);
    if (existing) return existing;
    const host = new HostInfo(vpnIp, hostmap.allocateIndex(), hostmap.remotesFor(vpnIp));
    const payload = encodeHandshake({
      details: { cert: this.node.identity.handshakeCert, initiatorIndex: host.localIndex, responderIndex: 0, cookie: 0n, time: unixNanos() },
    });
    const { message, state } = initiatorWriteMessage1(this.node.cipher, this.node.identity.keyPair, handshakeHeader(0, 1), payload);
    host.window.update(1);
    host.pending = { state, message, attempts: 0, timer: null, ...(options.directOnly ? { directOnly: true } : {}) };
    hostmap.addPending(host);
    this.node.log.debug({ vpnIp: formatIp(vpnIp), localIndex: host.localIndex }, 'starting handshake');
    this.node.onHandshakeStart(host);
    // Static hosts are tried at once; otherwise wait for a lighthouse answer or the first retry.
    if (host.remotes.size > 0) this.attempt(host);
    else this.schedule(host);
    return host;
  }

  /** Sends message 1 now (e.g. a lighthouse just told us where the peer is) unless already tried. */
  triggerNow(vpnIp: number): void {
    const host = this.node.hostmap.getPending(vpnIp);
    if (host && host.pending && host.pending.attempts === 0) this.attempt(host);
  }

  private schedule(host: HostInfo): void {
    const pending = host.pending;
    if (!pending) return;
    if (pending.timer) clearTimeout(pending.timer);
    const delay = this.node.config.handshakes.tryInterval * Math.max(1, pending.attempts);
    pending.timer = setTimeout(() => this.attempt(host), delay);
    pending.timer.unref?.();
  }

  private attempt(host: HostInfo): void {
    const pending = host.pending;
    if (!pending || this.node.hostmap.getPending(host.vpnIp) !== host) return;
    const retries = pending.directOnly ? Math.min(DIRECT_ONLY_ATTEMPTS, this.node.config.handshakes.retries) : this.node.config.handshakes.retries;
    if (pending.attempts >= retries) {
      // A failed try for a direct path next to a working relayed tunnel is routine.
      this.node.log[pending.directOnly ? 'debug' : 'info']({ vpnIp: formatIp(host.vpnIp), attempts: pending.attempts, remotes: host.remotes.addresses().map(endpointKey) }, 'handshake timed out');
      this.node.hostmap.removePending(host);
      this.node.stats.handshakeTimeouts++;
      return;
    }
    pending.attempts++;
    const addresses = host.remotes.addresses();
    for (const addr of addresses) this.node.sendRaw(pending.message, addr);
    this.node.onHandshakeAttempt(host, pending.message);
    this.schedule(host);
  }

  /** Handshake message 1 (we are the responder). */
  handleStage1(datagram: Buffer, from: Endpoint | null, via?: HostInfo): void {
    const node = this.node;
    const log = node.log;
    let read;
    let details: HandshakeDetails;
    try {
      read = responderReadMessage1(node.cipher, node.identity.keyPair, datagram);
      details = decodeHandshake(read.payload).details;
    } catch (err) {
      node.drop('handshake1', from, err);
      return;
    }
    let verified;
    try {
      verified = node.identity.verifyPeer(details.cert, read.remoteStatic);
    } catch (err) {
      const source = from ? endpointKey(from) : 'relay';
      node.infoLimited(`invalid-cert ${source}`, { from: source, reason: (err as Error).message }, 'invalid certificate from host, refusing handshake');
      node.stats.invalidCertificates++;
      return;
    }
    const vpnIp = verified.identity.vpnIp;
    const fields = { vpnIp: formatIp(vpnIp), certName: verified.cert.details.name, from: from && endpointKey(from) };
    if (vpnIp === node.identity.vpnIp) {
      log.info(fields, 'refusing to handshake with myself');
      return;
    }
    if (from && !node.remoteAllowed(vpnIp, from)) {
      log.debug(fields, 'handshake source refused by remote_allow_list');
      return;
    }
    const body = datagram.subarray(HEADER_LEN);
    const existing = node.hostmap.get(vpnIp);
    const candidate = node.hostmap.getCandidate(vpnIp);
    for (const answered of [existing, candidate]) {
      if (answered?.handshakeMessage1 && answered.handshakeMessage2 && answered.handshakeMessage1.equals(body)) {
        // A retransmission of the message 1 we already answered: answer it the same way.
        log.debug(fields, 'duplicate handshake message 1, re-sending message 2');
        node.sendHandshakeReply(answered.handshakeMessage2, from, via);
        return;
      }
    }
    const newest = candidate && (!existing || candidate.lastHandshakeTime > existing.lastHandshakeTime) ? candidate : existing;
    if (existing && newest && newest.lastHandshakeTime >= details.time) {
      node.infoLimited(`old-handshake ${formatIp(vpnIp)}`, { ...fields, existing: newest.lastHandshakeTime.toString(), offered: details.time.toString() }, 'handshake too old, keeping the existing tunnel');
      node.sendTest(existing);
      return;
    }
    const ours = node.hostmap.getPending(vpnIp);
    if (ours) {
      if (vpnIp > node.identity.vpnIp) {
        log.debug(fields, 'simultaneous handshake: the peer has the higher overlay IP, abandoning ours');
        node.hostmap.removePending(ours);
      } else {
        log.debug(fields, 'simultaneous handshake: ours wins, ignoring theirs');
        return;
      }
    }

    const host = new HostInfo(vpnIp, node.hostmap.allocateIndex(), node.hostmap.remotesFor(vpnIp));
    const reply = encodeHandshake({
      details: { ...details, cert: node.identity.handshakeCert, responderIndex: host.localIndex, time: unixNanos() },
    });
    const { message, keys } = responderWriteMessage2(read.state, handshakeHeader(details.initiatorIndex, 2), reply);
    host.remoteIndex = details.initiatorIndex;
    host.handshakeMessage1 = Buffer.from(body);
    host.handshakeMessage2 = message;
    host.lastHandshakeTime = details.time;
    this.complete(host, keys, verified, from);
    if (ours) host.queue.push(...ours.queue);
    node.sendHandshakeReply(message, from, via);
    if (existing?.established) {
      node.infoLimited(`candidate ${formatIp(vpnIp)}`, { ...fields, localIndex: host.localIndex, remoteIndex: host.remoteIndex }, 'newer handshake received, switching once the peer uses it');
      node.hostmap.addCandidate(host);
      node.connections.expireCandidate(host);
      return;
    }
    log.info({ ...fields, localIndex: host.localIndex, remoteIndex: host.remoteIndex }, 'handshake message 1 received, tunnel up (responder)');
    node.tunnelUp(host, via);
  }

  /** Handshake message 2 (we initiated). */
  handleStage2(datagram: Buffer, header: Header, from: Endpoint | null, via?: HostInfo): void {
    const node = this.node;
    const host = node.hostmap.getPendingByIndex(header.remoteIndex);
    if (!host || !host.pending) {
      const done = node.hostmap.getByIndex(header.remoteIndex);
      if (done) node.log.debug({ vpnIp: formatIp(done.vpnIp) }, 'handshake is already complete');
      return;
    }
    let result;
    let details: HandshakeDetails;
    try {
      result = initiatorReadMessage2(host.pending.state, datagram);
      details = decodeHandshake(result.payload).details;
    } catch (err) {
      // Possibly forged: keep waiting for a genuine message 2.
      node.drop('handshake2', from, err);
      return;
    }
    let verified;
    try {
      verified = node.identity.verifyPeer(details.cert, result.keys.remoteStatic);
    } catch (err) {
      node.log.info({ vpnIp: formatIp(host.vpnIp), from: from && endpointKey(from), reason: (err as Error).message }, 'invalid certificate from host, abandoning handshake');
      node.stats.invalidCertificates++;
      node.hostmap.removePending(host);
      return;
    }
    if (verified.identity.vpnIp !== host.vpnIp) {
      node.log.info({ intended: formatIp(host.vpnIp), responded: formatIp(verified.identity.vpnIp), from: from && endpointKey(from) }, 'incorrect host responded to handshake');
      if (from) host.remotes.block(from);
      return;
    }
    node.hostmap.removePending(host);
    host.pending = null;
    host.remoteIndex = details.responderIndex;
    host.lastHandshakeTime = details.time;
    host.remotes.unblockAll();
    this.complete(host, result.keys, verified, from);
    node.log.info({ vpnIp: formatIp(host.vpnIp), certName: verified.cert.details.name, from: from && endpointKey(from), localIndex: host.localIndex, remoteIndex: host.remoteIndex }, 'handshake message 2 received, tunnel up (initiator)');
    node.tunnelUp(host, via);
  }

  private complete(host: HostInfo, keys: HandshakeKeys, verified: ReturnType<MeshNode['identity']['verifyPeer']>, from: Endpoint | null): void {
    host.window.update(1);
    host.window.update(2);
    host.encrypt = keys.encrypt;
    host.decrypt = keys.decrypt;
    host.cert = verified.cert;
    host.identity = verified.identity;
    host.messageCounter = 2;
    if (from) {
      host.remote = { ...from };
      host.remotes.learn(from);
    }
  }

  /** Stops every pending handshake (shutdown). */
  stopAll(): void {
    for (const host of [...this.node.hostmap.pendingHosts()]) this.node.hostmap.removePending(host);
  }
}

