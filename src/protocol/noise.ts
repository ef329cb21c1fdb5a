/**
 * Noise IX as Nebula 1.6 uses it (flynn/noise v1.0.0 semantics):
 *   Noise_IX_25519_AESGCM_SHA256 or Noise_IX_25519_ChaChaPoly_SHA256, no PSK, empty prologue
 *   (MixHash(empty) is still performed). The 16-byte Nebula header is prepended to each Noise
 *   message but is not part of the transcript.
 *
 *   message 1 (initiator -> responder): header || e || s || payload            (all plaintext)
 *   message 2 (responder -> initiator): header || e || ENC(s) || ENC(payload)  (ee, se, s, es)
 *
 * Split() gives (k1, k2): k1 protects initiator->responder traffic, k2 responder->initiator.
 *
 * Everything here is pure: no sockets, no timers. State objects are never mutated by a read, so
 * a failed initiatorReadMessage2 (forged or corrupted message 2) leaves the handshake usable for a
 * later, genuine message 2, as Nebula does.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { createAead, TAG_LEN, type Aead, type AeadFactory, type CipherName } from './aead.js';
import { HEADER_LEN } from './header.js';

export const DH_LEN = 32;
export const HASH_LEN = 32;
/** flynn/noise's limit on a Noise message (excluding the Nebula header). */
export const MAX_NOISE_MESSAGE_LEN = 65535;

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface HandshakeKeys {
  /** AEAD for packets we send. */
  encrypt: Aead;
  /** AEAD for packets we receive. */
  decrypt: Aead;
  /** The peer's static X25519 public key, as learned by Noise. */
  remoteStatic: Uint8Array;
  /** Raw key behind `encrypt`. */
  sendKey: Uint8Array;
  /** Raw key behind `decrypt`. */
  receiveKey: Uint8Array;
  /** The final handshake hash h (channel binding; handy in tests). */
  handshakeHash: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// X25519 on node:crypto

// Keys go in and out as JWK: OpenSSL 3 imports a raw key that way (EVP_PKEY_new_raw_*_key) about
// 10x faster than through its DER decoders, which were most of a lighthouse's handshake cost.
// A private JWK must carry `x`, but node derives the public key from `d` and ignores it.
const PLACEHOLDER_X = Buffer.alloc(DH_LEN).toString('base64url');
/** The KeyObjects behind key pairs made here, so that a handshake does not import them again. */
const madeHere = new WeakMap<Uint8Array, KeyObject>();
let lastImported: { raw: Buffer; key: KeyObject } | undefined;

/** Drops the last imported key (for the start-up snapshot, which cannot hold a KeyObject). */
export function forgetImportedKeys(): void {
  lastImported = undefined;
}

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== DH_LEN) throw new Error(`X25519 private key must be ${DH_LEN} bytes, got ${raw.length}`);
  const made = madeHere.get(raw);
  if (made) return made;
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  // A node's static key comes back for every handshake: keep the last one imported.
  if (lastImported && timingSafeEqual(lastImported.raw, bytes)) return lastImported.key;
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: bytes.toString('base64url'), x: PLACEHOLDER_X }, format: 'jwk' });
  lastImported = { raw: Buffer.from(bytes), key };
  return key;
}

/**
 * The KeyObject of a long-lived static private key, made once per key: importing it costs more than
 * a DH, and every message 1 a responder reads (a flood of forged ones included) uses it.
 */
const staticKeys = new WeakMap<Uint8Array, KeyObject>();
function staticKeyObject(raw: Uint8Array): KeyObject {
  let key = staticKeys.get(raw);
  if (!key) {
    key = privateKeyObject(raw);
    staticKeys.set(raw, key);
  }
  return key;
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== DH_LEN) throw new Error(`X25519 public key must be ${DH_LEN} bytes, got ${raw.length}`);
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

/** The raw X25519 public key for a raw 32-byte private key (clamping happens inside X25519). */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return publicKeyOf(privateKeyObject(privateKey));
}

function publicKeyOf(key: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url'));
}

/**
 * A fresh key pair: 32 random bytes as the private key, as Nebula and flynn/noise do. Not
 * generateKeyPairSync: in Node 20 a scavenge during the JWK export of such a key can free its
 * KeyGenJob, whose destructor takes the key's mutex the export holds, and the process hangs (seen in
 * a lighthouse under 100k handshakes; more likely with the bin's small young generation).
 */
export function generateKeyPair(): KeyPair {
  const privateKey = new Uint8Array(randomBytes(DH_LEN));
  const d = Buffer.from(privateKey.buffer, privateKey.byteOffset, DH_LEN).toString('base64url');
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: PLACEHOLDER_X }, format: 'jwk' });
  const pair = { privateKey, publicKey: publicKeyOf(key) };
  madeHere.set(pair.privateKey, key);
  return pair;
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** X25519(priv, pub); throws when the result is all zeros (low-order point) or the input is malformed. */
export function x25519(privateKey: KeyObject | Uint8Array, publicKey: Uint8Array): Buffer {
  const priv = privateKey instanceof Uint8Array ? privateKeyObject(privateKey) : privateKey;
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey: priv, publicKey: publicKeyObject(publicKey) });
  } catch (err) {
    // OpenSSL refuses to return an all-zero shared secret.
    throw new Error(`X25519 failed (low-order public key?): ${(err as Error).message}`);
  }
  if (out.length !== DH_LEN || isAllZero(out)) throw new Error('X25519 produced an all-zero shared secret');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Symmetric state

export function protocolName(cipher: CipherName): string {
  return `Noise_IX_25519_${cipher === 'aes' ? 'AESGCM' : 'ChaChaPoly'}_SHA256`;
}

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const m = createHmac('sha256', key);
  for (const p of parts) m.update(p);
  return m.digest();
}

const BYTE_1 = Uint8Array.of(1);
const BYTE_2 = Uint8Array.of(2);
const EMPTY = new Uint8Array(0);

/** Noise HKDF with two outputs. */
function hkdf2(chainingKey: Uint8Array, ikm: Uint8Array): [Buffer, Buffer] {
  const temp = hmac(chainingKey, ikm);
  const o1 = hmac(temp, BYTE_1);
  const o2 = hmac(temp, o1, BYTE_2);
  return [o1, o2];
}

class SymmetricState {
  constructor(
    readonly cipher: CipherName,
    public ck: Buffer,
    public h: Buffer,
    public k: Buffer | null = null,
    public n = 0,
  ) {}

  static initial(cipher: CipherName): SymmetricState {
    const name = Buffer.from(protocolName(cipher), 'ascii');
    let h: Buffer;
    if (name.length <= HASH_LEN) {
      h = Buffer.alloc(HASH_LEN);
      name.copy(h);
    } else {
      h = sha256(name);
    }
    const ss = new SymmetricState(cipher, Buffer.from(h), h);
    ss.mixHash(EMPTY); // empty prologue
    return ss;
  }

  clone(): SymmetricState {
    return new SymmetricState(this.cipher, this.ck, this.h, this.k, this.n);
  }

  mixHash(data: Uint8Array): void {
    this.h = sha256(this.h, data);
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf2(this.ck, ikm);
    this.ck = ck;
    this.k = k;
    this.n = 0;
  }

  encryptAndHash(plaintext: Uint8Array): Buffer {
    let out: Buffer;
    if (this.k === null) {
      out = Buffer.from(plaintext);
    } else {
      out = createAead(this.cipher, this.k).seal(this.n, this.h, plaintext);
      this.n++;
    }
    this.mixHash(out);
    return out;
  }

  decryptAndHash(data: Uint8Array): Buffer {
    let out: Buffer;
    if (this.k === null) {
      out = Buffer.from(data);
    } else {
      const pt = createAead(this.cipher, this.k).open(this.n, this.h, data);
      if (pt === null) throw new Error('noise: message authentication failed');
      out = pt;
      this.n++;
    }
    this.mixHash(data);
    return out;
  }

  split(): [Buffer, Buffer] {
    return hkdf2(this.ck, EMPTY);
  }
}

/** The handshake hash and chaining key right after initialisation (tests/diagnostics). */
export function initialSymmetricState(cipher: CipherName): { h: Buffer; ck: Buffer } {
  const ss = SymmetricState.initial(cipher);
  return { h: Buffer.from(ss.h), ck: Buffer.from(ss.ck) };
}

function checkCipher(cipher: CipherName): void {
  if (cipher !== 'aes' && cipher !== 'chachapoly') throw new Error(`unknown cipher ${String(cipher)}`);
}

function checkKeyPair(kp: KeyPair, what: string): void {
  if (kp.privateKey.length !== DH_LEN || kp.publicKey.length !== DH_LEN) {
    throw new Error(`${what} key pair must have ${DH_LEN}-byte keys`);
  }
}

function checkHeader(header: Uint8Array): void {
  if (header.length !== HEADER_LEN) throw new Error(`handshake header must be ${HEADER_LEN} bytes`);
}

function makeKeys(
  aead: AeadFactory,
  cipher: CipherName,
  sendKey: Buffer,
  receiveKey: Buffer,
  remoteStatic: Uint8Array,
  handshakeHash: Buffer,
): HandshakeKeys {
  return {
    encrypt: aead(cipher, sendKey),
    decrypt: aead(cipher, receiveKey),
    remoteStatic: new Uint8Array(remoteStatic),
    sendKey: new Uint8Array(sendKey),
    receiveKey: new Uint8Array(receiveKey),
    handshakeHash: new Uint8Array(handshakeHash),
  };
}

// ---------------------------------------------------------------------------------------------
// Initiator

export interface InitiatorState {
  readonly cipher: CipherName;
  /** Makes the transport AEADs once the handshake completes. */
  readonly aead: AeadFactory;
  /** @internal */ readonly _ss: SymmetricState;
  /** @internal */ readonly _s: KeyObject;
  /** @internal */ readonly _e: KeyObject;
}

/** Builds message 1 = header(16) || e || s || payload (plaintext). */
export function initiatorWriteMessage1(
  cipher: CipherName,
  local: KeyPair,
  header: Uint8Array,
  payload: Uint8Array,
  ephemeral?: KeyPair,
  aead: AeadFactory = createAead,
): { message: Buffer; state: InitiatorState } {
  checkCipher(cipher);
  checkHeader(header);
  checkKeyPair(local, 'static');
  const e = ephemeral ?? generateKeyPair();
  checkKeyPair(e, 'ephemeral');
  if (2 * DH_LEN + payload.length > MAX_NOISE_MESSAGE_LEN) throw new Error('noise: payload too large');

  const ss = SymmetricState.initial(cipher);
  ss.mixHash(e.publicKey);
  ss.mixHash(local.publicKey);
  ss.encryptAndHash(payload); // no key yet: plaintext, MixHash(payload)

  const message = Buffer.allocUnsafe(HEADER_LEN + 2 * DH_LEN + payload.length);
  message.set(header, 0);
  message.set(e.publicKey, HEADER_LEN);
  message.set(local.publicKey, HEADER_LEN + DH_LEN);
  message.set(payload, HEADER_LEN + 2 * DH_LEN);
  return {
    message,
    state: { cipher, aead, _ss: ss, _s: privateKeyObject(local.privateKey), _e: privateKeyObject(e.privateKey) },
  };
}

/** Processes message 2 (including its 16-byte header). Throws on any failure; `state` is left untouched. */
export function initiatorReadMessage2(
  state: InitiatorState,
  datagram: Uint8Array,
): { payload: Buffer; keys: HandshakeKeys } {
  const msg = datagram.subarray(HEADER_LEN);
  if (datagram.length < HEADER_LEN || msg.length < DH_LEN + DH_LEN + TAG_LEN + TAG_LEN) {
    throw new Error('noise: message 2 too short');
  }
  if (msg.length > MAX_NOISE_MESSAGE_LEN) throw new Error('noise: message 2 too long');
  const ss = state._ss.clone();
  const re = msg.subarray(0, DH_LEN);
  ss.mixHash(re);
  ss.mixKey(x25519(state._e, re)); // ee
  ss.mixKey(x25519(state._s, re)); // se
  const rs = ss.decryptAndHash(msg.subarray(DH_LEN, 2 * DH_LEN + TAG_LEN)); // s
  ss.mixKey(x25519(state._e, rs)); // es
  const payload = ss.decryptAndHash(msg.subarray(2 * DH_LEN + TAG_LEN));
  const [k1, k2] = ss.split();
  return { payload, keys: makeKeys(state.aead, state.cipher, k1, k2, rs, ss.h) };
}

// ---------------------------------------------------------------------------------------------
// Responder

export interface ResponderState {
  readonly cipher: CipherName;
  /** Makes the transport AEADs once the handshake completes. */
  readonly aead: AeadFactory;
  /** The initiator's static key from message 1. */
  readonly remoteStatic: Uint8Array;
  /** @internal */ readonly _ss: SymmetricState;
  /** @internal */ readonly _s: KeyPair;
  /** @internal */ readonly _re: Uint8Array;
  /** @internal DH(s, re), computed while reading so bad ephemerals fail early. */
  readonly _es: Buffer;
}

/**
 * The initiator's static key and payload of message 1 (including its 16-byte header), which IX sends
 * in clear: read without any DH, so that a responder can check the certificate in the payload first
 * and spend no public-key work on a forged one. Throws when the message is too short or too long.
 */
export function message1Contents(datagram: Uint8Array): { remoteStatic: Uint8Array; payload: Uint8Array } {
  if (datagram.length < HEADER_LEN + 2 * DH_LEN) throw new Error('noise: message 1 too short');
  if (datagram.length - HEADER_LEN > MAX_NOISE_MESSAGE_LEN) throw new Error('noise: message 1 too long');
  // Copied: the datagram may share its memory with others of its batch.
  return { remoteStatic: datagram.slice(HEADER_LEN + DH_LEN, HEADER_LEN + 2 * DH_LEN), payload: datagram.slice(HEADER_LEN + 2 * DH_LEN) };
}

/**
 * Processes message 1 (including its 16-byte header). Throws when it is malformed or either of the
 * initiator's keys is a low-order point (the DHs that message 2 needs would be all zeros).
 */
export function responderReadMessage1(
  cipher: CipherName,
  local: KeyPair,
  datagram: Uint8Array,
  aead: AeadFactory = createAead,
): { payload: Buffer; remoteStatic: Uint8Array; state: ResponderState } {
  checkCipher(cipher);
  checkKeyPair(local, 'static');
  if (datagram.length < HEADER_LEN + 2 * DH_LEN) throw new Error('noise: message 1 too short');
  const msg = datagram.subarray(HEADER_LEN);
  if (msg.length > MAX_NOISE_MESSAGE_LEN) throw new Error('noise: message 1 too long');
  // Copy out: the datagram buffer may be reused by the socket layer.
  const re = new Uint8Array(msg.subarray(0, DH_LEN));
  const rs = new Uint8Array(msg.subarray(DH_LEN, 2 * DH_LEN));
  const ss = SymmetricState.initial(cipher);
  ss.mixHash(re);
  ss.mixHash(rs);
  const payload = ss.decryptAndHash(msg.subarray(2 * DH_LEN)); // no key: plaintext copy + MixHash

  const s = staticKeyObject(local.privateKey);
  const es = x25519(s, re); // also rejects a low-order initiator ephemeral
  x25519(s, rs); // rejects a low-order initiator static (se would be zero)
  return {
    payload,
    remoteStatic: rs,
    state: { cipher, aead, remoteStatic: rs, _ss: ss, _s: local, _re: re, _es: es },
  };
}

/** Builds message 2 = header(16) || e || ENC(s) || ENC(payload) and derives the transport keys. */
export function responderWriteMessage2(
  state: ResponderState,
  header: Uint8Array,
  payload: Uint8Array,
  ephemeral?: KeyPair,
): { message: Buffer; keys: HandshakeKeys } {
  checkHeader(header);
  const e = ephemeral ?? generateKeyPair();
  checkKeyPair(e, 'ephemeral');
  if (2 * DH_LEN + 2 * TAG_LEN + payload.length > MAX_NOISE_MESSAGE_LEN) throw new Error('noise: payload too large');
  const ss = state._ss.clone();
  const ePriv = privateKeyObject(e.privateKey);
  ss.mixHash(e.publicKey);
  ss.mixKey(x25519(ePriv, state._re)); // ee
  ss.mixKey(x25519(ePriv, state.remoteStatic)); // se
  const encS = ss.encryptAndHash(state._s.publicKey); // s
  ss.mixKey(state._es); // es
  const encPayload = ss.encryptAndHash(payload);
  const [k1, k2] = ss.split();

  const message = Buffer.allocUnsafe(HEADER_LEN + DH_LEN + encS.length + encPayload.length);
  message.set(header, 0);
  message.set(e.publicKey, HEADER_LEN);
  message.set(encS, HEADER_LEN + DH_LEN);
  message.set(encPayload, HEADER_LEN + DH_LEN + encS.length);
  return { message, keys: makeKeys(state.aead, state.cipher, k2, k1, state.remoteStatic, ss.h) };
}

/**
 * One whole handshake between two throwaway key pairs, in memory, and one transport packet.
 * A process's first real handshake otherwise runs V8 code never run before and OpenSSL algorithms
 * not yet fetched (X25519, HMAC, the AEAD): 5-9 ms of the 21-24 ms a first ping over a new tunnel
 * between two fresh nodes took here (bench/README.md). Keeps nothing: the key pairs are garbage after.
 */
export function rehearseHandshake(cipher: CipherName, aead: AeadFactory = createAead): void {
  const header = new Uint8Array(HEADER_LEN);
  const payload = new Uint8Array(64);
  const first = initiatorWriteMessage1(cipher, generateKeyPair(), header, payload, undefined, aead);
  const read = responderReadMessage1(cipher, generateKeyPair(), first.message, aead);
  const answer = responderWriteMessage2(read.state, header, payload);
  const { keys } = initiatorReadMessage2(first.state, answer.message);
  const packet = keys.encrypt.encryptPacket(header, 1, payload);
  if (!answer.keys.decrypt.decryptPacket(packet, 1)) throw new Error('noise: the rehearsed handshake did not agree on keys');
}
