import type { Certificate } from '../../pki/cert.js';
import { endpointKey, sameEndpoint, type Endpoint } from '../net/endpoint.js';
import { compareVpnAddr, formatVpnAddr, vpnAddrOf, type VpnAddr } from '../net/ip.js';
import type { AeadFactory, CipherName } from '../protocol/aead.js';
import { HEADER_LEN, MessageType, writeHeader, type Header } from '../protocol/header.js';
import { decodeHandshake, encodeHandshake, type HandshakeDetails } from '../protocol/messages.js';
import { initiatorReadMessage2, initiatorWriteMessage1, message1Contents, rehearseHandshake, responderReadMessage1, responderWriteMessage2, type HandshakeKeys } from '../protocol/noise.js';
import type { Diagnostics } from './diagnostics.js';
import { GlobalBudget, SourceLimiter, STAGE1_BURST, STAGE1_PER_SECOND } from './source-limiter.js';
import { HostInfo, type HostMap } from './hostmap.js';
import type { LocalIdentity, VerifiedPeer } from './identity.js';
import type { Timers } from './timers.js';

/** What the handshake manager needs from its node. */
export interface HandshakeDeps {
  readonly hostmap: HostMap;
  readonly diag: Diagnostics;
  readonly timers: Timers;
  readonly aead: AeadFactory;
  /** Our certificate and keys (replaced by a reload). */
  identity(): LocalIdentity;
  settings(): { cipher: CipherName; tryInterval: number; retries: number; incomingPerSecond: number; incomingBurst: number };
  remoteAllowed(vpnIp: VpnAddr, from: Endpoint): boolean;
  sendRaw(data: Uint8Array, to: Endpoint): void;
  /** Message 2 goes back the way message 1 came: to `to`, or through the relay hop `via`. */
  reply(message: Buffer, to: Endpoint | null, via?: HostInfo): void;
  sendTest(host: HostInfo): void;
  /** A handshake completed: the tunnel takes over for its peer. */
  tunnelUp(host: HostInfo): void;
  /** A newer handshake next to an established tunnel: it waits until the peer uses it. */
  addCandidate(host: HostInfo): void;
  onStart(host: HostInfo): void;
  onAttempt(host: HostInfo, message: Buffer): void;
}

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
 * settles simultaneous opens in favour of the higher overlay IP. Certificates are versioned as in
 * Nebula 1.10+: the payload's CertVersion says how to read Cert, the initiator sends its
 * pki.initiating_version certificate and the responder answers in the initiator's version when it
 * holds one.
 */
export class HandshakeManager {
  private readonly stage1Limiter = new SourceLimiter(STAGE1_PER_SECOND, STAGE1_BURST);
  private readonly incomingBudget = new GlobalBudget();

  constructor(private readonly deps: HandshakeDeps) {}

  /** The pending or new outbound handshake to `vpnIp`. */
  start(vpnIp: VpnAddr, options: { directOnly?: boolean } = {}): HostInfo {
    const { hostmap, aead } = this.deps;
    const existing = hostmap.getPending(vpnIp);
    if (existing) return existing;
    const identity = this.deps.identity();
    const host = new HostInfo(vpnIp, hostmap.allocateIndex(), hostmap.remotesFor(vpnIp));
    const mine = identity.handshakeCertificate();
    const payload = encodeHandshake({
      details: { cert: mine.handshakeBytes, certVersion: mine.version, initiatorIndex: host.localIndex, responderIndex: 0, cookie: 0n, time: unixNanos() },
    });
    const { message, state } = initiatorWriteMessage1(this.deps.settings().cipher, identity.keyPair, handshakeHeader(0, 1), payload, undefined, aead);
    host.window.update(1);
    host.pending = { state, message, attempts: 0, timer: null, ...(options.directOnly ? { directOnly: true } : {}) };
    hostmap.addPending(host);
    this.deps.diag.log.debug({ vpnIp: formatVpnAddr(vpnIp), localIndex: host.localIndex }, 'starting handshake');
    this.deps.onStart(host);
    // Static hosts are tried at once; otherwise wait for a lighthouse answer or the first retry.
    if (host.remotes.size > 0) this.attempt(host);
    else this.schedule(host);
    return host;
  }

  /**
   * A handshake in memory (rehearseHandshake) while the node has none: run once after the start, it
   * spares the first real handshake, either side of it, the first uses of its code and crypto.
   */
  rehearse(): void {
    const { hostmap, diag } = this.deps;
    if (hostmap.size > 0 || hostmap.pendingSize > 0) return;
    try {
      rehearseHandshake(this.deps.settings().cipher, this.deps.aead);
    } catch (err) {
      diag.log.warn({ reason: (err as Error).message }, 'handshake rehearsal failed');
    }
  }

  /** Sends message 1 now (e.g. a lighthouse just told us where the peer is) unless already tried. */
  triggerNow(vpnIp: VpnAddr): void {
    const host = this.deps.hostmap.getPending(vpnIp);
    if (host && host.pending && host.pending.attempts === 0) this.attempt(host);
  }

  private schedule(host: HostInfo): void {
    const pending = host.pending;
    if (!pending) return;
    pending.timer?.cancel();
    const delay = this.deps.settings().tryInterval * Math.max(1, pending.attempts);
    pending.timer = this.deps.timers.after(delay, () => this.attempt(host));
  }

  private attempt(host: HostInfo): void {
    const pending = host.pending;
    const { hostmap, diag } = this.deps;
    if (!pending || hostmap.getPending(host.vpnIp) !== host) return;
    const configured = this.deps.settings().retries;
    const retries = pending.directOnly ? Math.min(DIRECT_ONLY_ATTEMPTS, configured) : configured;
    if (pending.attempts >= retries) {
      // A failed try for a direct path next to a working relayed tunnel is routine.
      diag.log[pending.directOnly ? 'debug' : 'info']({ vpnIp: formatVpnAddr(host.vpnIp), attempts: pending.attempts, remotes: host.remotes.addresses().map(endpointKey) }, 'handshake timed out');
      hostmap.removePending(host);
      diag.stats.handshakeTimeouts++;
      return;
    }
    pending.attempts++;
    const addresses = host.remotes.addresses();
    for (const addr of addresses) this.deps.sendRaw(pending.message, addr);
    this.deps.onAttempt(host, pending.message);
    this.schedule(host);
  }

  /**
   * Whether a direct message 1 from `from` may be handled (takes a token from its address's bucket):
   * the receive path asks before it gives the message 1 one of a batch's few handshake slots.
   * Relayed message 1s come through an established tunnel and are not asked about.
   */
  admitStage1(from: Endpoint): boolean {
    if (this.stage1Limiter.allow(from.address, this.deps.timers.now())) return true;
    this.deps.diag.drop('handshake1-rate', from);
    return false;
  }

  /**
   * Whether a direct message 1's certificate may be checked (the signature is the costly part of a
   * forged one): within the budget for all sources together (handshakes.incoming_per_second), or
   * from a peer we already have a tunnel or a pending handshake with, at an address we know for it,
   * which a flood of new sources cannot crowd out. Relayed message 1s come through a tunnel and are
   * not asked about.
   */
  private admitCertificateCheck(claimed: Certificate, from: Endpoint): boolean {
    const { incomingPerSecond, incomingBurst } = this.deps.settings();
    if (this.knownPeerAt(claimed, from) || this.incomingBudget.allow(this.deps.timers.now(), incomingPerSecond, incomingBurst)) return true;
    this.deps.diag.drop('handshake1-budget', from);
    return false;
  }

  /** Whether a certificate claims a peer we hold a tunnel or a pending handshake for, and `from` is one of its addresses. */
  private knownPeerAt(claimed: Certificate, from: Endpoint): boolean {
    const { hostmap } = this.deps;
    for (const network of claimed.details.networks) {
      const vpnIp = vpnAddrOf(network);
      const host = hostmap.get(vpnIp) ?? hostmap.getPending(vpnIp);
      if (!host) continue;
      if (sameEndpoint(host.remote, from) || host.remotes.addresses().some((known) => sameEndpoint(known, from))) return true;
    }
    return false;
  }

  /** Handshake message 1 (we are the responder); a direct one was admitted by admitStage1. */
  handleStage1(datagram: Buffer, from: Endpoint | null, via?: HostInfo): void {
    const { hostmap, diag } = this.deps;
    const identity = this.deps.identity();
    // The certificate first: a forged one costs a signature check, no DH.
    let contents;
    let details: HandshakeDetails;
    try {
      contents = message1Contents(datagram);
      details = decodeHandshake(contents.payload).details;
    } catch (err) {
      diag.drop('handshake1', from, err);
      return;
    }
    let verified;
    try {
      const claimed = identity.readPeer(details.cert, details.certVersion, contents.remoteStatic);
      if (from && !this.admitCertificateCheck(claimed, from)) return;
      verified = identity.checkPeer(claimed);
    } catch (err) {
      const source = from ? endpointKey(from) : 'relay';
      diag.limited('info', 'invalid-cert', { from: source, reason: (err as Error).message }, 'invalid certificate from host, refusing handshake');
      diag.stats.invalidCertificates++;
      return;
    }
    const vpnIp = verified.identity.vpnIp;
    const fields = { vpnIp: formatVpnAddr(vpnIp), certName: verified.cert.details.name, certVersion: verified.cert.details.version, from: from && endpointKey(from) };
    if (verified.identity.vpnAddrs.some((a) => identity.vpnAddrs.includes(a))) {
      diag.limited('info', 'myself', fields, 'refusing to handshake with myself');
      return;
    }
    if (from && !this.deps.remoteAllowed(vpnIp, from)) {
      diag.limited('debug', 'remote-allow', fields, 'handshake source refused by remote_allow_list');
      return;
    }
    const body = datagram.subarray(HEADER_LEN);
    const existing = hostmap.get(vpnIp);
    const candidate = hostmap.getCandidate(vpnIp);
    for (const answered of [existing, candidate]) {
      if (answered?.handshakeMessage1 && answered.handshakeMessage2 && answered.handshakeMessage1.equals(body)) {
        // A retransmission of the message 1 we already answered: answer it the same way.
        diag.limited('debug', `duplicate-message1 ${fields.vpnIp}`, fields, 'duplicate handshake message 1, re-sending message 2');
        this.deps.reply(answered.handshakeMessage2, from, via);
        return;
      }
    }
    const newest = candidate && (!existing || candidate.lastHandshakeTime > existing.lastHandshakeTime) ? candidate : existing;
    if (existing && newest && newest.lastHandshakeTime >= details.time) {
      diag.limited('info', `old-handshake ${formatVpnAddr(vpnIp)}`, { ...fields, existing: newest.lastHandshakeTime.toString(), offered: details.time.toString() }, 'handshake too old, keeping the existing tunnel');
      this.deps.sendTest(existing);
      return;
    }
    let read;
    try {
      read = responderReadMessage1(this.deps.settings().cipher, identity.keyPair, datagram, this.deps.aead);
    } catch (err) {
      diag.drop('handshake1', from, err);
      return;
    }
    // Our own handshake to the peer may be pending under any of its addresses.
    let ours: HostInfo | undefined;
    for (const a of verified.identity.vpnAddrs) ours ??= hostmap.getPending(a);
    if (ours) {
      if (compareVpnAddr(vpnIp, identity.vpnIp) > 0) {
        diag.limited('debug', `simultaneous ${fields.vpnIp}`, fields, 'simultaneous handshake: the peer has the higher overlay IP, abandoning ours');
        hostmap.removePending(ours);
      } else {
        diag.limited('debug', `simultaneous ${fields.vpnIp}`, fields, 'simultaneous handshake: ours wins, ignoring theirs');
        return;
      }
    }

    const host = new HostInfo(vpnIp, hostmap.allocateIndex(), hostmap.remotesFor(vpnIp));
    // Answer in the initiator's certificate version when we hold one (Nebula 1.10+).
    const mine = identity.handshakeCertificate(verified.cert.details.version);
    const reply = encodeHandshake({
      details: { ...details, cert: mine.handshakeBytes, certVersion: mine.version, responderIndex: host.localIndex, time: unixNanos() },
    });
    const { message, keys } = responderWriteMessage2(read.state, handshakeHeader(details.initiatorIndex, 2), reply);
    host.remoteIndex = details.initiatorIndex;
    // Kept for the tunnel's life to answer a repeated message 1: copies of their own size, since a
    // small Buffer from Node's pool (or a view of a received batch) would pin a whole 8 KiB slab.
    host.handshakeMessage1 = ownCopy(body);
    host.handshakeMessage2 = ownCopy(message);
    host.lastHandshakeTime = details.time;
    this.complete(host, keys, verified, from);
    if (ours) host.queue.push(...ours.queue);
    this.deps.reply(message, from, via);
    if (existing?.established) {
      diag.limited('info', `candidate ${formatVpnAddr(vpnIp)}`, { ...fields, localIndex: host.localIndex, remoteIndex: host.remoteIndex }, 'newer handshake received, switching once the peer uses it');
      this.deps.addCandidate(host);
      return;
    }
    this.deps.tunnelUp(host);
    this.logTunnelUp('responder', { ...fields, localIndex: host.localIndex, remoteIndex: host.remoteIndex }, 'handshake message 1 received, tunnel up (responder)');
  }

  /** Handshake message 2 (we initiated). */
  handleStage2(datagram: Buffer, header: Header, from: Endpoint | null): void {
    const { hostmap, diag } = this.deps;
    const host = hostmap.getPendingByIndex(header.remoteIndex);
    if (!host || !host.pending) {
      const done = hostmap.getByIndex(header.remoteIndex);
      if (done) diag.limited('debug', 'handshake-complete', { vpnIp: formatVpnAddr(done.vpnIp) }, 'handshake is already complete');
      return;
    }
    let result;
    let details: HandshakeDetails;
    try {
      result = initiatorReadMessage2(host.pending.state, datagram);
      details = decodeHandshake(result.payload).details;
    } catch (err) {
      // Possibly forged: keep waiting for a genuine message 2.
      diag.drop('handshake2', from, err);
      return;
    }
    let verified;
    try {
      verified = this.deps.identity().verifyPeer(details.cert, details.certVersion, result.keys.remoteStatic);
    } catch (err) {
      diag.limited('info', 'invalid-cert', { vpnIp: formatVpnAddr(host.vpnIp), from: from && endpointKey(from), reason: (err as Error).message }, 'invalid certificate from host, abandoning handshake');
      diag.stats.invalidCertificates++;
      hostmap.removePending(host);
      return;
    }
    if (!verified.identity.vpnAddrs.includes(host.vpnIp)) {
      diag.limited('info', 'incorrect-host', { intended: formatVpnAddr(host.vpnIp), responded: formatVpnAddr(verified.identity.vpnIp), from: from && endpointKey(from) }, 'incorrect host responded to handshake');
      if (from) host.remotes.block(from);
      return;
    }
    hostmap.removePending(host);
    host.pending = null;
    // Asked for by any of its addresses, the tunnel is keyed by the peer's first one.
    host.vpnIp = verified.identity.vpnIp;
    host.remoteIndex = details.responderIndex;
    host.lastHandshakeTime = details.time;
    host.remotes.unblockAll();
    this.complete(host, result.keys, verified, from);
    this.deps.tunnelUp(host);
    this.logTunnelUp(
      'initiator',
      { vpnIp: formatVpnAddr(host.vpnIp), certName: verified.cert.details.name, certVersion: verified.cert.details.version, from: from && endpointKey(from), localIndex: host.localIndex, remoteIndex: host.remoteIndex },
      'handshake message 2 received, tunnel up (initiator)',
    );
  }

  /**
   * Logs a tunnel up a microtask later: once the batch has sent message 2 and the queued packets
   * (it sends them when it ends), so that formatting the line delays neither.
   */
  private logTunnelUp(side: 'initiator' | 'responder', fields: { vpnIp: string } & Record<string, unknown>, message: string): void {
    queueMicrotask(() => this.deps.diag.limited('info', `tunnel-up-${side} ${fields.vpnIp}`, fields, message));
  }

  private complete(host: HostInfo, keys: HandshakeKeys, verified: VerifiedPeer, from: Endpoint | null): void {
    host.window.update(1);
    host.window.update(2);
    host.encrypt = keys.encrypt;
    host.decrypt = keys.decrypt;
    host.cert = verified.cert;
    host.identity = verified.identity;
    host.vpnAddrs = verified.identity.vpnAddrs;
    host.messageCounter = 2;
    if (from) {
      host.remote = { ...from };
      host.remotes.learn(from);
    }
  }

  /** Stops every pending handshake (shutdown). */
  stopAll(): void {
    const { hostmap } = this.deps;
    for (const host of [...hostmap.pendingHosts()]) hostmap.removePending(host);
  }
}

/** A copy in an ArrayBuffer of its own (Buffer.from(bytes) would copy into Node's shared 8 KiB pool). */
function ownCopy(bytes: Uint8Array): Buffer {
  return Buffer.from(new Uint8Array(bytes).buffer);
}
