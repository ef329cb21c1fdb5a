/**
 * Certificate versions in handshakes (Nebula 1.10+): v1, v2 and hosts holding both, on the
 * handshake manager with a recorded wire and a fake clock. What goes on the wire (CertVersion, the
 * certificate without its key), which version a responder answers in, pki.initiating_version, and
 * every way a peer's certificate is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { makeCA, makeHost, type TestCA, type TestHost } from '../../../src/lab/pki.js';
import { generateX25519KeyPair, loadCertificates } from '../../../pki/keys.js';
import { certificateFingerprint, marshalCertificate, marshalCertificateForHandshake } from '../../../pki/cert.js';
import { formatIp } from '../../../src/net/ipv4.js';
import type { Endpoint } from '../../../src/net/endpoint.js';
import { createAead } from '../../../src/protocol/aead.js';
import { HEADER_LEN, MessageType, parseHeader, writeHeader } from '../../../src/protocol/header.js';
import { decodeHandshake, encodeHandshake } from '../../../src/protocol/messages.js';
import { initiatorWriteMessage1, responderReadMessage1, type KeyPair } from '../../../src/protocol/noise.js';
import { Diagnostics } from '../../../src/node/diagnostics.js';
import { HandshakeManager } from '../../../src/node/handshake-manager.js';
import { HostMap, type HostInfo } from '../../../src/node/hostmap.js';
import { LocalIdentity } from '../../../src/node/identity.js';
import { FakeTimers } from '../../helpers/fake-timers.js';

const v1ca = makeCA('v1 CA');
const v2ca = makeCA('v2 CA', { version: 2 });
const bothCAs = v1ca.pem + v2ca.pem;

interface Peer {
  address: Endpoint;
  identity: LocalIdentity;
  keys: KeyPair;
  hostmap: HostMap;
  diag: Diagnostics;
  manager: HandshakeManager;
  sent: Buffer[];
  up: HostInfo[];
  /** Why certificates were refused (the `reason` of each log line that has one). */
  reasons: string[];
}

/** A host holding a certificate of each CA in `cas` (same key, same address), trusting `trusts`. */
function credentials(name: string, ip: string, cas: TestCA[], trusts: string): { host: TestHost; keys: KeyPair } {
  const keys = generateX25519KeyPair();
  const certs = cas.map((ca) => makeHost(ca, name, ip, { keys }));
  return { host: { ...certs[0]!, ca: trusts, certPem: certs.map((c) => c.certPem).join('') }, keys };
}

let nextPort = 5000;

function peer(name: string, ip: string, cas: TestCA[], options: { trusts?: string; initiatingVersion?: 1 | 2 } = {}): Peer {
  const { host, keys } = credentials(name, ip, cas, options.trusts ?? bothCAs);
  const identity = LocalIdentity.fromConfig({ ca: host.ca, cert: host.certPem, key: host.keyPem, blocklist: [], disconnectInvalid: false, revocations: '', initiatingVersion: options.initiatingVersion ?? null });
  const timers = new FakeTimers();
  const hostmap = new HostMap();
  const reasons: string[] = [];
  const log = pino({ level: 'info' }, new Writable({
    write(chunk, _enc, done) {
      const line = JSON.parse(String(chunk)) as { reason?: string };
      if (line.reason) reasons.push(line.reason);
      done();
    },
  }));
  const p = { address: { address: '127.0.0.1', port: nextPort++ }, identity, keys, hostmap, diag: new Diagnostics(log, () => timers.now()), sent: [], up: [], reasons } as unknown as Peer;
  p.manager = new HandshakeManager({
    hostmap,
    diag: p.diag,
    timers,
    aead: createAead,
    identity: () => identity,
    settings: () => ({ cipher: 'aes', tryInterval: 100, retries: 3, incomingPerSecond: 2000, incomingBurst: 4000 }),
    remoteAllowed: () => true,
    sendRaw: (data) => void p.sent.push(Buffer.from(data)),
    reply: (message) => void p.sent.push(message),
    sendTest: () => {},
    tunnelUp: (h) => {
      hostmap.add(h);
      p.up.push(h);
    },
    addCandidate: () => {},
    onStart: () => {},
    onAttempt: () => {},
  });
  return p;
}

/** Hands what `from` sent since `since` to `to`, as the outside path would. */
function deliver(from: Peer, to: Peer, since = 0): void {
  for (const data of from.sent.slice(since)) {
    const header = parseHeader(data)!;
    if (header.counter === 1) to.manager.handleStage1(data, from.address);
    else to.manager.handleStage2(data, header, from.address);
  }
}

/** a initiates to b; returns the payload each side sent (message 1, then message 2 as b's reply). */
function handshake(a: Peer, b: Peer) {
  a.hostmap.remotesFor(b.identity.vpnIp).setStatic([b.address]);
  const [aSince, bSince] = [a.sent.length, b.sent.length];
  a.manager.start(b.identity.vpnIp);
  const m1 = a.sent[aSince]!;
  deliver(a, b, aSince);
  deliver(b, a, bSince);
  const read = responderReadMessage1('aes', b.keys, m1);
  return { sent: decodeHandshake(read.payload).details };
}

function includes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

/** A message 1 from `keys` carrying `cert` with CertVersion `certVersion`, as a hostile or broken peer would send it. */
function message1(keys: KeyPair, cert: Uint8Array, certVersion: number | undefined): Buffer {
  const header = Buffer.alloc(HEADER_LEN);
  writeHeader(header, 0, MessageType.Handshake, 0, 0, 1);
  const payload = encodeHandshake({ details: { cert, ...(certVersion === undefined ? {} : { certVersion }), initiatorIndex: 7, responderIndex: 0, cookie: 0n, time: 1n } });
  return initiatorWriteMessage1('aes', keys, header, payload).message;
}

describe('certificate versions in handshakes', () => {
  it('v1 to v1: CertVersion 1, the certificate without its key, a v1 tunnel', () => {
    const a = peer('a', '10.9.0.1/16', [v1ca]);
    const b = peer('b', '10.9.0.2/16', [v1ca]);
    const { sent } = handshake(a, b);
    assert.equal(sent.certVersion, 1);
    assert.equal(includes(sent.cert, a.keys.publicKey), false, 'the public key stays out of the payload');
    assert.equal(a.up.length, 1);
    assert.equal(b.up.length, 1);
    assert.equal(a.up[0]!.cert!.details.version, 1);
    assert.equal(b.up[0]!.cert!.details.version, 1);
  });

  it('v2 to v2: CertVersion 2, no key in the payload, the peer key filled in from Noise', () => {
    const a = peer('a', '10.9.0.1/16', [v2ca]);
    const b = peer('b', '10.9.0.2/16', [v2ca]);
    assert.equal(a.identity.initiatingVersion, 2, 'a v2-only host initiates in v2');
    const { sent } = handshake(a, b);
    assert.equal(sent.certVersion, 2);
    assert.equal(sent.cert[0], 0x30, 'the v2 DER form');
    assert.equal(includes(sent.cert, a.keys.publicKey), false, 'the public key stays out of the payload');
    assert.ok(Buffer.from(sent.cert).equals(Buffer.from(a.identity.handshakeCertificate(2).handshakeBytes)));
    assert.equal(a.up.length, 1);
    assert.equal(b.up.length, 1);
    const seenByB = b.up[0]!.cert!;
    assert.equal(seenByB.details.version, 2);
    assert.deepEqual(seenByB.details.publicKey, a.keys.publicKey);
    assert.equal(a.up[0]!.cert!.details.version, 2);
  });

  it('a host holding v1 and v2 initiates in v1 by default and answers each peer in its version', () => {
    const dual = peer('dual', '10.9.0.1/16', [v1ca, v2ca]);
    assert.equal(dual.identity.initiatingVersion, 1);
    assert.deepEqual(dual.identity.certificates().map((c) => c.version), [1, 2]);

    const v1 = peer('v1', '10.9.0.2/16', [v1ca]);
    handshake(v1, dual);
    assert.equal(dual.up[0]!.cert!.details.version, 1);
    assert.equal(v1.up[0]!.cert!.details.version, 1, 'answered in v1');

    const v2 = peer('v2', '10.9.0.3/16', [v2ca]);
    handshake(v2, dual);
    assert.equal(dual.up[1]!.cert!.details.version, 2);
    assert.equal(v2.up[0]!.cert!.details.version, 2, 'answered in v2');

    const out = peer('v1b', '10.9.0.4/16', [v1ca]);
    const { sent } = handshake(dual, out);
    assert.equal(sent.certVersion, 1, 'dual initiates in v1');
    assert.equal(out.up[0]!.cert!.details.version, 1);
  });

  it('pki.initiating_version 2 makes a dual host start in v2', () => {
    const dual = peer('dual', '10.9.0.1/16', [v1ca, v2ca], { initiatingVersion: 2 });
    const other = peer('other', '10.9.0.2/16', [v1ca, v2ca]);
    const { sent } = handshake(dual, other);
    assert.equal(sent.certVersion, 2);
    assert.equal(other.up[0]!.cert!.details.version, 2);
    assert.equal(dual.up[0]!.cert!.details.version, 2, 'the responder answers in the initiator\'s version');
  });

  it('a responder without the initiator\'s version answers with the one it has (mixed tunnel)', () => {
    const v1only = peer('v1', '10.9.0.1/16', [v1ca]);
    const v2only = peer('v2', '10.9.0.2/16', [v2ca]);
    handshake(v1only, v2only);
    assert.equal(v2only.up[0]!.cert!.details.version, 1);
    assert.equal(v1only.up[0]!.cert!.details.version, 2);
  });

  it('takes a v2 certificate made by Go Nebula from the handshake form and the Noise key', () => {
    const fixtures = fileURLToPath(new URL('../../../../test/fixtures/pki/v2/', import.meta.url));
    const goHost = loadCertificates(join(fixtures, 'ed25519-host.crt'))[0]!;
    const { host } = credentials('b', '10.9.0.2/16', [v2ca], v2ca.pem + readFileSync(join(fixtures, 'ed25519-ca.crt'), 'utf8'));
    const b = LocalIdentity.fromConfig({ ca: host.ca, cert: host.certPem, key: host.keyPem, blocklist: [], disconnectInvalid: false, revocations: '' });
    const form = marshalCertificateForHandshake(goHost);
    assert.equal(includes(form, goHost.details.publicKey), false);
    const inValidity = new Date('2026-06-01T00:00:00Z');
    const verified = b.verifyPeer(form, 2, goHost.details.publicKey, inValidity);
    assert.equal(certificateFingerprint(verified.cert), certificateFingerprint(goHost), 'the same certificate, key filled back in');
    assert.equal(formatIp(verified.identity.vpnIp as number), '10.1.0.2');
    assert.throws(() => b.verifyPeer(form, 2, generateX25519KeyPair().publicKey, inValidity), /certificate signature did not match/);
  });

  describe('refuses', () => {
    function refused(b: Peer, reason: RegExp): void {
      assert.equal(b.up.length, 0, 'no tunnel');
      assert.equal(b.sent.length, 0, 'no message 2');
      assert.equal(b.diag.stats.invalidCertificates, 1);
      assert.match(b.reasons.join('\n'), reason);
    }

    it('v2 certificate bytes announced as v1 (CertVersion absent or 1)', () => {
      const a = peer('a', '10.9.0.1/16', [v2ca]);
      const bytes = a.identity.handshakeCertificate(2).handshakeBytes;
      for (const version of [undefined, 1]) {
        const b = peer('b', '10.9.0.2/16', [v1ca, v2ca]);
        b.manager.handleStage1(message1(a.keys, bytes, version), a.address);
        refused(b, /invalid certificate: /);
      }
    });

    it('v1 certificate bytes announced as v2', () => {
      const a = peer('a', '10.9.0.1/16', [v1ca]);
      const b = peer('b', '10.9.0.2/16', [v1ca, v2ca]);
      b.manager.handleStage1(message1(a.keys, a.identity.handshakeCertificate(1).handshakeBytes, 2), a.address);
      refused(b, /^bad wire format$/);
    });

    it('an unknown certificate version', () => {
      const a = peer('a', '10.9.0.1/16', [v2ca]);
      const b = peer('b', '10.9.0.2/16', [v2ca]);
      b.manager.handleStage1(message1(a.keys, a.identity.handshakeCertificate(2).handshakeBytes, 3), a.address);
      refused(b, /certificate version unrecognized/);
    });

    it('a v2 certificate sent by a Noise key that is not its own', () => {
      const a = peer('a', '10.9.0.1/16', [v2ca]);
      const b = peer('b', '10.9.0.2/16', [v2ca]);
      b.manager.handleStage1(message1(generateX25519KeyPair(), a.identity.handshakeCertificate(2).handshakeBytes, 2), a.address);
      refused(b, /certificate signature did not match/);
    });

    it('a v2 certificate whose CA this host does not trust (a v1-only pool)', () => {
      const a = peer('a', '10.9.0.1/16', [v2ca]);
      const b = peer('b', '10.9.0.2/16', [v1ca], { trusts: v1ca.pem });
      b.manager.handleStage1(message1(a.keys, a.identity.handshakeCertificate(2).handshakeBytes, 2), a.address);
      refused(b, /could not find ca for the certificate/);
    });

    it('a v2 certificate with its public key inside (Nebula 1.10.1+ refuses it)', () => {
      const a = peer('a', '10.9.0.1/16', [v2ca]);
      const b = peer('b', '10.9.0.2/16', [v2ca]);
      b.manager.handleStage1(message1(a.keys, marshalCertificate(a.identity.cert), 2), a.address);
      refused(b, /certificate has unexpected pubkey present/);
    });

    it('a v2 certificate that says it is P-256', () => {
      const a = peer('a', '10.9.0.1/16', [v2ca]);
      const b = peer('b', '10.9.0.2/16', [v2ca]);
      b.manager.handleStage1(message1(a.keys, withCurve(a.identity.handshakeCertificate(2).handshakeBytes, 1), 2), a.address);
      refused(b, /certificate curve P256 does not match expected CURVE25519: P-256 certificates are not supported/);
    });

    it('an answer whose certificate does not verify, and keeps nothing', () => {
      const a = peer('a', '10.9.0.1/16', [v2ca], { trusts: v2ca.pem });
      const b = peer('b', '10.9.0.2/16', [v1ca], { trusts: bothCAs });
      a.hostmap.remotesFor(b.identity.vpnIp).setStatic([b.address]);
      a.manager.start(b.identity.vpnIp);
      deliver(a, b);
      assert.equal(b.up.length, 1, 'b trusts both CAs');
      deliver(b, a);
      assert.equal(a.up.length, 0, 'a trusts only the v2 CA and b answered in v1, all it has');
      assert.equal(a.diag.stats.invalidCertificates, 1);
      assert.equal(a.hostmap.pendingSize, 0);
    });
  });
});

/** The v2 handshake form `30 LL { details, sig }` with a curve element `81 01 <curve>` after the details. */
function withCurve(handshakeForm: Uint8Array, curve: number): Uint8Array {
  const { body } = derElement(handshakeForm, 0);
  const details = derElement(body, 0);
  const inner = Buffer.concat([body.subarray(0, details.end), Buffer.of(0x81, 0x01, curve), body.subarray(details.end)]);
  return Buffer.concat([Buffer.of(0x30), derLength(inner.length), inner]);
}

function derElement(bytes: Uint8Array, at: number): { body: Uint8Array; end: number } {
  let length = bytes[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[start + i]!;
    start += n;
  }
  return { body: bytes.subarray(start, start + length), end: start + length };
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  if (n < 0x100) return Buffer.of(0x81, n);
  return Buffer.of(0x82, n >> 8, n & 0xff);
}

describe('pki.cert with a v1 and a v2 certificate', () => {
  function load(certPem: string, keyPem: string, initiatingVersion: 1 | 2 | null = null): LocalIdentity {
    return LocalIdentity.fromConfig({ ca: bothCAs, cert: certPem, key: keyPem, blocklist: [], disconnectInvalid: false, revocations: '', initiatingVersion });
  }

  it('loads both from one PEM file, v1 first or v2 first', () => {
    const keys = generateX25519KeyPair();
    const c1 = makeHost(v1ca, 'h', '10.9.0.1/16', { keys });
    const c2 = makeHost(v2ca, 'h', '10.9.0.1/16', { keys });
    for (const pem of [c1.certPem + c2.certPem, c2.certPem + c1.certPem]) {
      const identity = load(pem, c1.keyPem);
      assert.deepEqual(identity.certificates().map((c) => c.version), [1, 2]);
      assert.equal(identity.initiatingVersion, 1);
      assert.equal(identity.cert.details.version, 1, 'the initiating certificate is the one shown');
    }
    assert.equal(load(c1.certPem + c2.certPem, c1.keyPem, 2).cert.details.version, 2);
  });

  it('refuses certificates that do not belong together, naming the reason', () => {
    const keys = generateX25519KeyPair();
    const c1 = makeHost(v1ca, 'h', '10.9.0.1/16', { keys });
    const otherKey = makeHost(v2ca, 'h', '10.9.0.1/16');
    const otherNetwork = makeHost(v2ca, 'h', '10.9.0.7/16', { keys });
    const otherBits = makeHost(v2ca, 'h', '10.9.0.1/24', { keys });
    assert.throws(() => load(c1.certPem + otherKey.certPem, c1.keyPem), /pki\.(cert|key): .*(public key|does not match)/);
    assert.throws(() => load(c1.certPem + otherNetwork.certPem, c1.keyPem), /pki\.cert: .*same first network \(10\.9\.0\.1\/16 and 10\.9\.0\.7\/16\)/);
    assert.throws(() => load(c1.certPem + otherBits.certPem, c1.keyPem), /pki\.cert: .*same first network/);
    const c1again = makeHost(v1ca, 'h2', '10.9.0.1/16', { keys });
    assert.throws(() => load(c1.certPem + c1again.certPem, c1.keyPem), /pki\.cert: holds more than one version 1 certificate/);
  });

  it('refuses a P-256 certificate as not supported', () => {
    const fixtures = fileURLToPath(new URL('../../../../test/fixtures/pki/v2/', import.meta.url));
    const read = (name: string) => readFileSync(join(fixtures, name), 'utf8');
    assert.throws(
      () => LocalIdentity.fromConfig({ ca: read('p256-ca.crt'), cert: read('p256-host.crt'), key: read('p256-host.key'), blocklist: [], disconnectInvalid: false, revocations: '' }),
      /pki\.cert: the version 2 certificate uses P256; P-256 certificates are not supported by mesh/,
    );
  });

  it('refuses a pki.initiating_version it holds no certificate for', () => {
    const c1 = makeHost(v1ca, 'h', '10.9.0.1/16');
    const c2 = makeHost(v2ca, 'h', '10.9.0.1/16');
    assert.throws(() => load(c1.certPem, c1.keyPem, 2), /pki\.initiating_version: is 2 but pki\.cert holds no version 2 certificate/);
    assert.throws(() => load(c2.certPem, c2.keyPem, 1), /pki\.initiating_version: is 1 but pki\.cert holds no version 1 certificate/);
    assert.equal(load(c2.certPem, c2.keyPem).initiatingVersion, 2, 'v2 only: starts in v2');
  });
});
