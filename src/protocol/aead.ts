/**
 * Transport AEADs (AES-256-GCM and ChaCha20-Poly1305): the contract, and its node:crypto
 * implementation (a cipher object per packet). The composition root may pass a faster factory with
 * the same contract (src/io/openssl-aead.ts, the addon's OpenSSL contexts); both produce identical bytes.
 *
 * Nonce = 4 zero bytes followed by the 64-bit counter, big-endian for AES-GCM and little-endian for
 * ChaCha20-Poly1305 (the same per-cipher encoding Noise uses; Nebula selects it from `cipher`).
 * Tags are always 16 bytes.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { HEADER_LEN } from './header.js';

export type CipherName = 'aes' | 'chachapoly';

export const TAG_LEN = 16;
export const KEY_LEN = 32;
export const NONCE_LEN = 12;

export interface Aead {
  readonly cipher: CipherName;
  /** The addon object doing the work, when it is the native one: the fast path seals and opens with it too. */
  readonly native?: object;
  /** header(16 bytes, used as AD) || ciphertext || tag(16) in one new Buffer; nonce from counter per cipher rules */
  encryptPacket(header: Uint8Array, counter: number, plaintext: Uint8Array): Buffer;
  /** packet = header||ciphertext||tag; AD = first 16 bytes; null when authentication fails or too short */
  decryptPacket(packet: Uint8Array, counter: number): Buffer | null;
  /** generic: returns ciphertext||tag */
  seal(counter: number, ad: Uint8Array, plaintext: Uint8Array): Buffer;
  /** generic: sealed = ciphertext||tag; null when authentication fails or too short */
  open(counter: number, ad: Uint8Array, sealed: Uint8Array): Buffer | null;
  /**
   * Seals `count` packets in place in `buf`: entry i is a header (16 bytes, the AD; its counter is
   * the nonce) at offsets[i], lengths[i] bytes of plaintext after it and 16 bytes of room for the
   * tag; it becomes header || ciphertext || tag. Throws RangeError before touching anything when
   * an entry does not fit in `buf`.
   */
  sealBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void;
  /**
   * Opens `count` datagrams in place in `buf`: entry i is header || ciphertext || tag, lengths[i]
   * bytes at offsets[i]; the plaintext is written right after the header. results[i] = its length,
   * or -1 when the datagram is too short or does not authenticate (those bytes are then garbage).
   */
  openBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, results: Int32Array): void;
}

/** Checks a batch's entries against `buf` (each needs lengths[i] + `extra` bytes); throws RangeError. */
export function checkBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, extra: number): void {
  if (!Number.isInteger(count) || count < 0 || count > offsets.length || count > lengths.length) throw new RangeError('aead: invalid count');
  for (let i = 0; i < count; i++) {
    if (offsets[i]! + lengths[i]! + extra > buf.length) throw new RangeError(`aead: batch entry ${i} out of bounds`);
  }
}

/** Makes the AEAD for one direction of a tunnel from its 32-byte key. */
export type AeadFactory = (cipher: CipherName, key: Uint8Array) => Aead;

const TWO_32 = 0x1_0000_0000;

export function isCipherName(value: unknown): value is CipherName {
  return value === 'aes' || value === 'chachapoly';
}

/** Writes the 12-byte nonce for `counter` into `out` (which must be 12 bytes). */
export function writeNonce(cipher: CipherName, counter: number, out: Uint8Array): void {
  if (!Number.isInteger(counter) || counter < 0) throw new RangeError(`invalid counter ${counter}`);
  const hi = Math.floor(counter / TWO_32);
  const lo = counter >>> 0;
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  if (cipher === 'aes') {
    out[4] = hi >>> 24;
    out[5] = (hi >>> 16) & 0xff;
    out[6] = (hi >>> 8) & 0xff;
    out[7] = hi & 0xff;
    out[8] = lo >>> 24;
    out[9] = (lo >>> 16) & 0xff;
    out[10] = (lo >>> 8) & 0xff;
    out[11] = lo & 0xff;
  } else {
    out[4] = lo & 0xff;
    out[5] = (lo >>> 8) & 0xff;
    out[6] = (lo >>> 16) & 0xff;
    out[7] = lo >>> 24;
    out[8] = hi & 0xff;
    out[9] = (hi >>> 8) & 0xff;
    out[10] = (hi >>> 16) & 0xff;
    out[11] = hi >>> 24;
  }
}

/** Writes the nonce for the counter of the Nebula header at header[at..at+16) (bytes 8-15, big-endian), exactly, into `out`. */
function writeNonceFromHeader(cipher: CipherName, header: Uint8Array, at: number, out: Uint8Array): void {
  out.fill(0, 0, 4);
  for (let i = 0; i < 8; i++) out[cipher === 'aes' ? 4 + i : 11 - i] = header[at + 8 + i]!;
}

/** The 12-byte nonce for `counter` as a new Buffer (for tests and diagnostics). */
export function nonceFor(cipher: CipherName, counter: number): Buffer {
  const out = Buffer.alloc(NONCE_LEN);
  writeNonce(cipher, counter, out);
  return out;
}

class NodeAead implements Aead {
  private readonly algorithm: 'aes-256-gcm' | 'chacha20-poly1305';
  private readonly key: KeyObject;
  /** Scratch nonce; createCipheriv copies the IV synchronously so reuse is safe. */
  private readonly nonce = Buffer.alloc(NONCE_LEN);

  constructor(
    readonly cipher: CipherName,
    key: Uint8Array,
  ) {
    if (key.length !== KEY_LEN) throw new RangeError(`AEAD key must be ${KEY_LEN} bytes, got ${key.length}`);
    this.algorithm = cipher === 'aes' ? 'aes-256-gcm' : 'chacha20-poly1305';
    this.key = createSecretKey(key);
  }

  private cipherFor(counter: number) {
    writeNonce(this.cipher, counter, this.nonce);
    // Both algorithms share the GCM-shaped API (setAAD/getAuthTag); the cast only satisfies the overloads.
    return createCipheriv(this.algorithm as 'aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_LEN });
  }

  private decipherFor(counter: number) {
    writeNonce(this.cipher, counter, this.nonce);
    return createDecipheriv(this.algorithm as 'aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_LEN });
  }

  encryptPacket(header: Uint8Array, counter: number, plaintext: Uint8Array): Buffer {
    if (header.length !== HEADER_LEN) throw new RangeError(`header must be ${HEADER_LEN} bytes`);
    const out = Buffer.allocUnsafe(HEADER_LEN + plaintext.length + TAG_LEN);
    out.set(header, 0);
    this.sealInto(out, HEADER_LEN, counter, header, plaintext);
    return out;
  }

  decryptPacket(packet: Uint8Array, counter: number): Buffer | null {
    if (packet.length < HEADER_LEN + TAG_LEN) return null;
    return this.openParts(
      counter,
      packet.subarray(0, HEADER_LEN),
      packet.subarray(HEADER_LEN, packet.length - TAG_LEN),
      packet.subarray(packet.length - TAG_LEN),
    );
  }

  seal(counter: number, ad: Uint8Array, plaintext: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(plaintext.length + TAG_LEN);
    this.sealInto(out, 0, counter, ad, plaintext);
    return out;
  }

  /** Writes ciphertext || tag into `out` at `pos`. */
  private sealInto(out: Buffer, pos: number, counter: number, ad: Uint8Array, plaintext: Uint8Array): void {
    const c = this.cipherFor(counter);
    c.setAAD(ad);
    if (plaintext.length > 0) {
      const ct = c.update(plaintext);
      out.set(ct, pos);
      pos += ct.length;
    }
    const fin = c.final();
    if (fin.length > 0) {
      out.set(fin, pos);
      pos += fin.length;
    }
    out.set(c.getAuthTag(), pos);
  }

  sealBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    checkBatch(buf, offsets, lengths, count, HEADER_LEN + TAG_LEN);
    for (let i = 0; i < count; i++) {
      const at = offsets[i]!;
      const body = at + HEADER_LEN;
      writeNonceFromHeader(this.cipher, buf, at, this.nonce);
      const c = createCipheriv(this.algorithm as 'aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_LEN });
      c.setAAD(buf.subarray(at, body));
      // update() returns new memory, so writing it over its own input is safe.
      const ct = c.update(buf.subarray(body, body + lengths[i]!));
      buf.set(ct, body);
      const fin = c.final();
      buf.set(fin, body + ct.length);
      buf.set(c.getAuthTag(), body + lengths[i]!);
    }
  }

  openBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, results: Int32Array): void {
    checkBatch(buf, offsets, lengths, count, 0);
    if (results.length < count) throw new RangeError('aead: results shorter than count');
    for (let i = 0; i < count; i++) {
      const at = offsets[i]!;
      const len = lengths[i]!;
      if (len < HEADER_LEN + TAG_LEN) {
        results[i] = -1;
        continue;
      }
      const body = at + HEADER_LEN;
      const end = at + len - TAG_LEN;
      writeNonceFromHeader(this.cipher, buf, at, this.nonce);
      const d = createDecipheriv(this.algorithm as 'aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_LEN });
      d.setAAD(buf.subarray(at, body));
      d.setAuthTag(buf.subarray(end, at + len));
      const pt = d.update(buf.subarray(body, end));
      let fin: Buffer;
      try {
        fin = d.final();
      } catch {
        results[i] = -1;
        continue;
      }
      buf.set(pt, body);
      buf.set(fin, body + pt.length);
      results[i] = pt.length + fin.length;
    }
  }

  open(counter: number, ad: Uint8Array, sealed: Uint8Array): Buffer | null {
    if (sealed.length < TAG_LEN) return null;
    return this.openParts(
      counter,
      ad,
      sealed.subarray(0, sealed.length - TAG_LEN),
      sealed.subarray(sealed.length - TAG_LEN),
    );
  }

  private openParts(counter: number, ad: Uint8Array, ct: Uint8Array, tag: Uint8Array): Buffer | null {
    if (!Number.isInteger(counter) || counter < 0) return null;
    const d = this.decipherFor(counter);
    d.setAAD(ad);
    d.setAuthTag(tag);
    const pt = ct.length > 0 ? d.update(ct) : EMPTY;
    try {
      const fin = d.final();
      return fin.length === 0 ? pt : Buffer.concat([pt, fin]);
    } catch {
      return null;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** The node:crypto implementation: the reference, and the fallback when the addon is not there. */
export function createAead(cipher: CipherName, key: Uint8Array): Aead {
  if (!isCipherName(cipher)) throw new Error(`unknown cipher ${String(cipher)}`);
  return new NodeAead(cipher, key);
}
