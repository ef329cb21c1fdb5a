import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createAead, type AeadFactory, type CipherName } from '../../../src/protocol/aead.js';
import { encodeHeader, parseHeader } from '../../../src/protocol/header.js';
import {
  generateKeyPair,
  initialSymmetricState,
  initiatorReadMessage2,
  initiatorWriteMessage1,
  rehearseHandshake,
  responderReadMessage1,
  responderWriteMessage2,
  x25519PublicKey,
  type KeyPair,
} from '../../../src/protocol/noise.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ciphers: CipherName[] = ['aes', 'chachapoly'];

/** Deterministic test keys: private = SHA-256(label), public from noble (independent of the code under test). */
function fixedKeyPair(label: string): KeyPair {
  const privateKey = new Uint8Array(createHash('sha256').update(label).digest());
  return { privateKey, publicKey: nobleX25519.getPublicKey(privateKey) };
}

// ---- An independent Noise IX reference, written straight from the Noise spec with noble primitives.
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

class RefSymmetric {
  ck: Uint8Array;
  h: Uint8Array;
  k: Uint8Array | null = null;
  n = 0;
  constructor(readonly cipher: CipherName) {
    const name = new TextEncoder().encode(`Noise_IX_25519_${cipher === 'aes' ? 'AESGCM' : 'ChaChaPoly'}_SHA256`);
    this.h = name.length <= 32 ? concat(name, new Uint8Array(32 - name.length)) : sha256(name);
    this.ck = this.h.slice();
    this.mixHash(new Uint8Array(0)); // prologue
  }
  mixHash(d: Uint8Array) {
    this.h = sha256(concat(this.h, d));
  }
  hkdf(ikm: Uint8Array): [Uint8Array, Uint8Array] {
    const t = hmac(sha256, this.ck, ikm);
    const o1 = hmac(sha256, t, Uint8Array.of(1));
    const o2 = hmac(sha256, t, concat(o1, Uint8Array.of(2)));
    return [o1, o2];
  }
  mixKey(ikm: Uint8Array) {
    [this.ck, this.k] = this.hkdf(ikm);
    this.n = 0;
  }
  nonce(): Uint8Array {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setBigUint64(4, BigInt(this.n), this.cipher === 'chachapoly');
    return nonce;
  }
  aead() {
    return this.cipher === 'aes' ? gcm(this.k!, this.nonce(), this.h) : chacha20poly1305(this.k!, this.nonce(), this.h);
  }
  encryptAndHash(p: Uint8Array): Uint8Array {
    const c = this.k ? this.aead().encrypt(p) : p;
    if (this.k) this.n++;
    this.mixHash(c);
    return c;
  }
  decryptAndHash(c: Uint8Array): Uint8Array {
    const p = this.k ? this.aead().decrypt(c) : c;
    if (this.k) this.n++;
    this.mixHash(c);
    return p;
  }
  split() {
    return this.hkdf(new Uint8Array(0));
  }
}

function dh(priv: Uint8Array, pub: Uint8Array) {
  return nobleX25519.getSharedSecret(priv, pub);
}

/** Full IX with fixed keys; returns what both messages (without header) and the split keys must be. */
function referenceIX(cipher: CipherName, si: KeyPair, ei: KeyPair, sr: KeyPair, er: KeyPair, p1: Uint8Array, p2: Uint8Array) {
  // initiator writes message 1
  const a = new RefSymmetric(cipher);
  a.mixHash(ei.publicKey);
  a.mixHash(si.publicKey);
  const m1 = concat(ei.publicKey, si.publicKey, a.encryptAndHash(p1));
  // responder reads message 1 and writes message 2
  const b = new RefSymmetric(cipher);
  b.mixHash(m1.subarray(0, 32));
  b.mixHash(m1.subarray(32, 64));
  b.decryptAndHash(m1.subarray(64));
  b.mixHash(er.publicKey);
  b.mixKey(dh(er.privateKey, ei.publicKey)); // ee
  b.mixKey(dh(er.privateKey, si.publicKey)); // se
  const encS = b.encryptAndHash(sr.publicKey);
  b.mixKey(dh(sr.privateKey, ei.publicKey)); // es
  const encP = b.encryptAndHash(p2);
  const m2 = concat(er.publicKey, encS, encP);
  const [k1, k2] = b.split();
  // initiator reads message 2 in the reference too (sanity: both reference sides agree)
  a.mixHash(m2.subarray(0, 32));
  a.mixKey(dh(ei.privateKey, m2.subarray(0, 32)));
  a.mixKey(dh(si.privateKey, m2.subarray(0, 32)));
  const rs = a.decryptAndHash(m2.subarray(32, 80));
  a.mixKey(dh(ei.privateKey, rs));
  const gotP2 = a.decryptAndHash(m2.subarray(80));
  const [ak1, ak2] = a.split();
  assert.equal(hex(ak1), hex(k1));
  assert.equal(hex(ak2), hex(k2));
  assert.equal(hex(gotP2), hex(p2));
  return { m1, m2, k1, k2, h: b.h };
}

const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

function handshake(cipher: CipherName, p1 = Buffer.from('initiator payload'), p2 = Buffer.from('responder payload!')) {
  const si = generateKeyPair();
  const sr = generateKeyPair();
  const h1 = encodeHeader(0, 0, 0, 1);
  const { message: m1, state: ist } = initiatorWriteMessage1(cipher, si, h1, p1);
  const r1 = responderReadMessage1(cipher, sr, m1);
  const h2 = encodeHeader(0, 0, 0x11223344, 2);
  const { message: m2, keys: rkeys } = responderWriteMessage2(r1.state, h2, p2);
  return { si, sr, m1, m2, ist, r1, rkeys };
}

describe('noise IX', () => {
  it('initial h values match the notes (protocol name + empty prologue)', () => {
    assert.equal(hex(initialSymmetricState('aes').h), 'fa8036af1df9e55b2fbbf8c88d86be3f7392d38033bd67926b9b0143f8ea5782');
    assert.equal(hex(initialSymmetricState('chachapoly').h), '74cefe972107f9a1793627299a4734e57ec647354486d1c7b1d59030cb154364');
    // ck starts as the padded protocol name
    assert.equal(
      Buffer.from(initialSymmetricState('aes').ck).toString('latin1'),
      'Noise_IX_25519_AESGCM_SHA256\0\0\0\0',
    );
    assert.equal(Buffer.from(initialSymmetricState('chachapoly').ck).toString('latin1'), 'Noise_IX_25519_ChaChaPoly_SHA256');
    // and the reference agrees
    assert.equal(hex(new RefSymmetric('aes').h), 'fa8036af1df9e55b2fbbf8c88d86be3f7392d38033bd67926b9b0143f8ea5782');
  });

  it('x25519PublicKey and generateKeyPair agree with noble', () => {
    for (let i = 0; i < 5; i++) {
      const kp = generateKeyPair();
      assert.equal(hex(kp.publicKey), hex(nobleX25519.getPublicKey(kp.privateKey)));
    }
    const fixed = fixedKeyPair('x');
    assert.equal(hex(x25519PublicKey(fixed.privateKey)), hex(fixed.publicKey));
    // RFC 7748 §6.1 Alice
    assert.equal(
      hex(x25519PublicKey(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'))),
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
  });

  for (const cipher of ciphers) {
    describe(cipher, () => {
      it('matches the independent reference byte for byte (fixed keys)', () => {
        const si = fixedKeyPair('initiator static');
        const ei = fixedKeyPair('initiator ephemeral');
        const sr = fixedKeyPair('responder static');
        const er = fixedKeyPair('responder ephemeral');
        const p1 = Buffer.from('0a160a0443455254', 'hex');
        const p2 = Buffer.from('a responder payload of some length', 'utf8');
        const ref = referenceIX(cipher, si, ei, sr, er, p1, p2);

        const h1 = encodeHeader(0, 0, 0, 1);
        const w1 = initiatorWriteMessage1(cipher, si, h1, p1, ei);
        assert.equal(hex(w1.message), hex(h1) + hex(ref.m1));
        const r1 = responderReadMessage1(cipher, sr, w1.message);
        assert.equal(hex(r1.payload), hex(p1));
        assert.equal(hex(r1.remoteStatic), hex(si.publicKey));
        const h2 = encodeHeader(0, 0, 42, 2);
        const w2 = responderWriteMessage2(r1.state, h2, p2, er);
        assert.equal(hex(w2.message), hex(h2) + hex(ref.m2));
        assert.equal(hex(w2.keys.receiveKey), hex(ref.k1));
        assert.equal(hex(w2.keys.sendKey), hex(ref.k2));
        assert.equal(hex(w2.keys.handshakeHash), hex(ref.h));
        const r2 = initiatorReadMessage2(w1.state, w2.message);
        assert.equal(hex(r2.payload), hex(p2));
        assert.equal(hex(r2.keys.sendKey), hex(ref.k1));
        assert.equal(hex(r2.keys.receiveKey), hex(ref.k2));
        assert.equal(hex(r2.keys.remoteStatic), hex(sr.publicKey));
      });

      it('round trip with random keys: keys agree, transport works both ways, sizes as on the wire', () => {
        const p1 = Buffer.alloc(168, 7);
        const p2 = Buffer.alloc(170, 9);
        const { si, sr, m1, m2, ist, r1, rkeys } = handshake(cipher, p1, p2);
        assert.equal(m1.length, 80 + p1.length);
        assert.equal(m2.length, 16 + 32 + 48 + p2.length + 16);
        assert.equal(parseHeader(m2)?.remoteIndex, 0x11223344);
        assert.equal(hex(m1.subarray(48, 80)), hex(si.publicKey)); // static key in clear in msg 1
        assert.equal(hex(r1.remoteStatic), hex(si.publicKey));
        const { payload, keys: ikeys } = initiatorReadMessage2(ist, m2);
        assert.equal(hex(payload), hex(p2));
        assert.equal(hex(ikeys.remoteStatic), hex(sr.publicKey));
        assert.equal(hex(rkeys.remoteStatic), hex(si.publicKey));
        // k1: initiator -> responder, k2: responder -> initiator
        assert.equal(hex(ikeys.sendKey), hex(rkeys.receiveKey));
        assert.equal(hex(ikeys.receiveKey), hex(rkeys.sendKey));
        assert.notEqual(hex(ikeys.sendKey), hex(ikeys.receiveKey));
        assert.equal(hex(ikeys.handshakeHash), hex(rkeys.handshakeHash));

        const hdr = encodeHeader(1, 0, 1, 3);
        const a = ikeys.encrypt.encryptPacket(hdr, 3, Buffer.from('ping'));
        assert.equal(rkeys.decrypt.decryptPacket(a, 3)?.toString(), 'ping');
        assert.equal(ikeys.decrypt.decryptPacket(a, 3), null, 'own direction key must not decrypt');
        const b = rkeys.encrypt.encryptPacket(hdr, 3, Buffer.from('pong'));
        assert.equal(ikeys.decrypt.decryptPacket(b, 3)?.toString(), 'pong');
      });

      it('empty payloads work', () => {
        const { m1, m2, ist } = handshake(cipher, Buffer.alloc(0), Buffer.alloc(0));
        assert.equal(m1.length, 80);
        assert.equal(m2.length, 112);
        assert.equal(initiatorReadMessage2(ist, m2).payload.length, 0);
      });

      it('tampering with any byte of message 2 after the header makes the initiator throw', () => {
        const { m2, ist } = handshake(cipher);
        for (let i = 16; i < m2.length; i += 3) {
          const bad = Buffer.from(m2);
          bad[i]! ^= 0x80;
          assert.throws(() => initiatorReadMessage2(ist, bad), Error, `byte ${i}`);
        }
        assert.throws(() => initiatorReadMessage2(ist, m2.subarray(0, m2.length - 1)));
        assert.throws(() => initiatorReadMessage2(ist, m2.subarray(0, 16 + 32 + 48 + 15)));
        assert.throws(() => initiatorReadMessage2(ist, new Uint8Array(0)));
      });

      it('a failed read leaves the initiator state usable for the genuine message 2', () => {
        const { m2, ist, rkeys } = handshake(cipher);
        const bad = Buffer.from(m2);
        bad[bad.length - 1]! ^= 1;
        assert.throws(() => initiatorReadMessage2(ist, bad));
        const ok = initiatorReadMessage2(ist, m2);
        assert.equal(hex(ok.keys.sendKey), hex(rkeys.receiveKey));
      });

      it('tampering with message 1 (keys or payload) breaks the handshake', () => {
        const { m1, ist } = handshake(cipher);
        for (const i of [20, 60, 90]) {
          const bad = Buffer.from(m1);
          bad[i]! ^= 0x01;
          const sr = generateKeyPair();
          const r = responderReadMessage1(cipher, sr, bad);
          const { message } = responderWriteMessage2(r.state, encodeHeader(0, 0, 1, 2), Buffer.from('x'));
          assert.throws(() => initiatorReadMessage2(ist, message), Error, `byte ${i}`);
        }
      });

      it('a message 2 from a different handshake is rejected', () => {
        const one = handshake(cipher);
        const two = handshake(cipher);
        assert.throws(() => initiatorReadMessage2(one.ist, two.m2));
      });

      it('a low-order initiator ephemeral or static key makes the responder throw', () => {
        const sr = generateKeyPair();
        for (const p of LOW_ORDER_POINTS) {
          const bad: KeyPair = { privateKey: generateKeyPair().privateKey, publicKey: Buffer.from(p, 'hex') };
          const asEphemeral = initiatorWriteMessage1(cipher, generateKeyPair(), encodeHeader(0, 0, 0, 1), Buffer.from('p'), bad);
          assert.throws(() => responderReadMessage1(cipher, sr, asEphemeral.message), /X25519/, `ephemeral ${p}`);
          const asStatic = initiatorWriteMessage1(cipher, bad, encodeHeader(0, 0, 0, 1), Buffer.from('p'));
          assert.throws(() => responderReadMessage1(cipher, sr, asStatic.message), /X25519/, `static ${p}`);
        }
      });

      it('a low-order responder ephemeral or static key makes the initiator throw', () => {
        for (const p of LOW_ORDER_POINTS) {
          const { ist, r1 } = handshake(cipher);
          const bad: KeyPair = { privateKey: generateKeyPair().privateKey, publicKey: Buffer.from(p, 'hex') };
          const { message } = responderWriteMessage2(r1.state, encodeHeader(0, 0, 1, 2), Buffer.from('x'), bad);
          assert.throws(() => initiatorReadMessage2(ist, message), /X25519/, `ephemeral ${p}`);

          // A responder whose static public key is low-order (its private key is unrelated).
          const w1 = initiatorWriteMessage1(cipher, generateKeyPair(), encodeHeader(0, 0, 0, 1), Buffer.from('p'));
          const badStatic: KeyPair = { privateKey: generateKeyPair().privateKey, publicKey: Buffer.from(p, 'hex') };
          const r = responderReadMessage1(cipher, badStatic, w1.message);
          const w2 = responderWriteMessage2(r.state, encodeHeader(0, 0, 1, 2), Buffer.from('x'));
          assert.throws(() => initiatorReadMessage2(w1.state, w2.message), /X25519/, `static ${p}`);
        }
      });

      it('message 1 shorter than header + e + s is rejected', () => {
        const { m1 } = handshake(cipher);
        assert.throws(() => responderReadMessage1(cipher, generateKeyPair(), m1.subarray(0, 79)), /too short/);
        assert.equal(responderReadMessage1(cipher, generateKeyPair(), m1.subarray(0, 80)).payload.length, 0);
      });
    });
  }

  it('a cipher mismatch makes the initiator fail (responder still answers)', () => {
    for (const [ic, rc] of [['aes', 'chachapoly'], ['chachapoly', 'aes']] as const) {
      const si = generateKeyPair();
      const sr = generateKeyPair();
      const w1 = initiatorWriteMessage1(ic, si, encodeHeader(0, 0, 0, 1), Buffer.from('hi'));
      const r1 = responderReadMessage1(rc, sr, w1.message);
      assert.equal(r1.payload.toString(), 'hi');
      const w2 = responderWriteMessage2(r1.state, encodeHeader(0, 0, 1, 2), Buffer.from('yo'));
      assert.throws(() => initiatorReadMessage2(w1.state, w2.message), /authentication/);
    }
  });

  it('rejects bad arguments', () => {
    const kp = generateKeyPair();
    assert.throws(() => initiatorWriteMessage1('aes', kp, new Uint8Array(15), new Uint8Array(0)));
    assert.throws(() => initiatorWriteMessage1('aes', { privateKey: new Uint8Array(31), publicKey: kp.publicKey }, encodeHeader(0, 0, 0, 1), new Uint8Array(0)));
    assert.throws(() => initiatorWriteMessage1('rot13' as CipherName, kp, encodeHeader(0, 0, 0, 1), new Uint8Array(0)));
  });

  it('the responder copies what it keeps out of the datagram buffer', () => {
    const { m1 } = handshake('aes');
    const buf = Buffer.from(m1);
    const sr = generateKeyPair();
    const r1 = responderReadMessage1('aes', sr, buf);
    const expectedStatic = hex(r1.remoteStatic);
    buf.fill(0);
    assert.equal(hex(r1.remoteStatic), expectedStatic);
    assert.doesNotThrow(() => responderWriteMessage2(r1.state, encodeHeader(0, 0, 1, 2), Buffer.alloc(0)));
  });

  it('a rehearsed handshake runs both sides and a transport packet through the AEAD factory it is given', () => {
    for (const cipher of ciphers) {
      const made: CipherName[] = [];
      const counting: AeadFactory = (c, key) => {
        made.push(c);
        return createAead(c, key);
      };
      rehearseHandshake(cipher, counting);
      // Two transport AEADs per side, each of the configured cipher.
      assert.deepEqual(made, [cipher, cipher, cipher, cipher]);
    }
    // Keys that do not fit together are an error, not a silent pass: here every AEAD gets a key of its own.
    let keyByte = 0;
    const mismatched: AeadFactory = (c, key) => createAead(c, Buffer.from(key).fill(++keyByte));
    assert.throws(() => rehearseHandshake('aes', mismatched), /did not agree/);
  });
});
