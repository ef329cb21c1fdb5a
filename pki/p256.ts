/**
 * NIST P-256 as Nebula 1.10+ uses it, through node:crypto: ECDSA over SHA-256 with DER signatures
 * normalised to low-s (CA keys), and the key pairs of P256 hosts. Private keys are 32-byte
 * scalars, public keys 65-byte uncompressed points, as nebula-cert stores them.
 */
import { createECDH, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { DerError, DerReader, derElement, derIntegerValue, derUnsignedContent } from './der.js';

export const P256_PRIVATE_KEY_LENGTH = 32;
export const P256_PUBLIC_KEY_LENGTH = 65;

/** The group order n of P-256. */
const ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** The uncompressed public point of a 32-byte scalar; throws for an invalid scalar. */
export function p256PublicFromPrivate(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== P256_PRIVATE_KEY_LENGTH) throw new Error(`P256 private key must be ${P256_PRIVATE_KEY_LENGTH} bytes, got ${privateKey.length}`);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(privateKey));
  return Uint8Array.from(ecdh.getPublicKey(null, 'uncompressed'));
}

export function generateP256KeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  for (;;) {
    const privateKey = Uint8Array.from(randomBytes(P256_PRIVATE_KEY_LENGTH));
    const d = BigInt(`0x${Buffer.from(privateKey).toString('hex')}`);
    if (d === 0n || d >= ORDER) continue;
    return { privateKey, publicKey: p256PublicFromPrivate(privateKey) };
  }
}

function jwkPublic(publicKey: Uint8Array): { kty: 'EC'; crv: 'P-256'; x: string; y: string } {
  if (publicKey.length !== P256_PUBLIC_KEY_LENGTH || publicKey[0] !== 0x04) throw new Error('P256 public key must be a 65-byte uncompressed point');
  return { kty: 'EC', crv: 'P-256', x: b64url(publicKey.subarray(1, 33)), y: b64url(publicKey.subarray(33)) };
}

function privateKeyObject(privateKey: Uint8Array): KeyObject {
  const publicKey = p256PublicFromPrivate(privateKey);
  return createPrivateKey({ key: { ...jwkPublic(publicKey), d: b64url(privateKey) }, format: 'jwk' });
}

/** r and s of a DER ECDSA signature; throws DerError for anything else. */
function signatureParts(signature: Uint8Array): { r: bigint; s: bigint } {
  const outer = new DerReader(signature);
  const seq = outer.read(0x30);
  if (!outer.empty) throw new DerError();
  const inner = new DerReader(seq.content);
  const r = derIntegerValue(inner.read(0x02).content);
  const s = derIntegerValue(inner.read(0x02).content);
  if (!inner.empty || r <= 0n || s <= 0n) throw new DerError();
  return { r, s };
}

function encodeSignature(r: bigint, s: bigint): Uint8Array {
  return derElement(0x30, derElement(0x02, derUnsignedContent(r)), derElement(0x02, derUnsignedContent(s)));
}

/** The same signature with s replaced by n - s (the other valid form), as Nebula's p256.Swap. */
export function p256SwapSignature(signature: Uint8Array): Uint8Array {
  const { r, s } = signatureParts(signature);
  return encodeSignature(r, ORDER - s);
}

/** ECDSA-SHA256 of `data`, DER, in low-s form (Nebula 1.10.3+). */
export function p256Sign(data: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const der = sign('sha256', data, { key: privateKeyObject(privateKey), dsaEncoding: 'der' });
  const { r, s } = signatureParts(der);
  return s > ORDER / 2n ? encodeSignature(r, ORDER - s) : Uint8Array.from(der);
}

/** Whether `signature` (DER, high- or low-s) is a valid ECDSA-SHA256 signature of `data` by `publicKey`. */
export function p256Verify(data: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: jwkPublic(publicKey), format: 'jwk' });
    return verify('sha256', data, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}
