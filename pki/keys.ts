/**
 * Keys (X25519 host keys, Ed25519 CA keys) and loaders for certificates, keys and CA pools.
 *
 * Loaders accept a file path or inline PEM (any value containing "-----BEGIN"), as Nebula's
 * pki.ca / pki.cert / pki.key settings do. Every loader error names its source.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { describeFsError } from '../src/errors.js';
import { CAPool } from './ca-pool.js';
import { CertificateError, marshalCertificate, type Certificate, type Curve } from './cert.js';
import { generateP256KeyPair, p256PublicFromPrivate, P256_PRIVATE_KEY_LENGTH, P256_PUBLIC_KEY_LENGTH } from './p256.js';
import {
  CERT_BANNER,
  CERT_V2_BANNER,
  certificateFromBlock,
  decodePem,
  decodePemAny,
  ED25519_PRIVATE_KEY_BANNER,
  ED25519_PUBLIC_KEY_BANNER,
  ECDSA_P256_PRIVATE_KEY_BANNER,
  encodePem,
  P256_PRIVATE_KEY_BANNER,
  P256_PUBLIC_KEY_BANNER,
  parseCertificatesPem,
  X25519_PRIVATE_KEY_BANNER,
  X25519_PUBLIC_KEY_BANNER,
} from './pem.js';

import type { KeyPair } from '../src/protocol/noise.js';

export { parseCertificatesPem };

export const X25519_KEY_LENGTH = 32;
export const ED25519_PRIVATE_KEY_LENGTH = 64;
export const ED25519_PUBLIC_KEY_LENGTH = 32;

/** The one key pair shape (Noise's): X25519 host keys and Ed25519 CA keys alike. */
export type { KeyPair };

// ---------------------------------------------------------------------------------------------
// X25519 (host keys)

/** A new X25519 pair. The private key is 32 random bytes, stored unclamped as nebula-cert does. */
export function generateX25519KeyPair(): KeyPair {
  const privateKey = Uint8Array.from(randomBytes(32));
  return { privateKey, publicKey: x25519PublicFromPrivate(privateKey) };
}

export function x25519PublicFromPrivate(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== X25519_KEY_LENGTH) throw new CertificateError(`X25519 private key must be 32 bytes, got ${privateKey.length}`);
  return x25519.getPublicKey(privateKey);
}

// ---------------------------------------------------------------------------------------------
// Ed25519 (CA keys; Go format: 32-byte seed || 32-byte public key)

export function generateEd25519KeyPair(): KeyPair {
  const seed = Uint8Array.from(randomBytes(32));
  const publicKey = ed25519.getPublicKey(seed);
  const privateKey = new Uint8Array(64);
  privateKey.set(seed, 0);
  privateKey.set(publicKey, 32);
  return { privateKey, publicKey };
}

/** The public half of a 64-byte Ed25519 private key, after checking it matches the seed. */
export function ed25519PublicFromPrivate(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== ED25519_PRIVATE_KEY_LENGTH) {
    throw new CertificateError(`key was not ${ED25519_PRIVATE_KEY_LENGTH} bytes, is invalid Ed25519 private key`);
  }
  const derived = ed25519.getPublicKey(privateKey.subarray(0, 32));
  if (!Buffer.from(derived).equals(Buffer.from(privateKey.subarray(32)))) {
    throw new CertificateError('corrupt Ed25519 private key: the public half does not match the seed');
  }
  return derived;
}

// ---------------------------------------------------------------------------------------------
// PEM encode / decode

function checkLength(bytes: Uint8Array, expected: number, what: string): Uint8Array {
  if (bytes.length !== expected) throw new CertificateError(`key was not ${expected} bytes, is invalid ${what}`);
  return bytes;
}

export function encodeX25519PrivateKeyPem(key: Uint8Array): string {
  return encodePem(X25519_PRIVATE_KEY_BANNER, checkLength(key, X25519_KEY_LENGTH, 'X25519 private key'));
}
export function encodeX25519PublicKeyPem(key: Uint8Array): string {
  return encodePem(X25519_PUBLIC_KEY_BANNER, checkLength(key, X25519_KEY_LENGTH, 'X25519 public key'));
}
export function encodeEd25519PrivateKeyPem(key: Uint8Array): string {
  return encodePem(ED25519_PRIVATE_KEY_BANNER, checkLength(key, ED25519_PRIVATE_KEY_LENGTH, 'Ed25519 private key'));
}
export function encodeEd25519PublicKeyPem(key: Uint8Array): string {
  return encodePem(ED25519_PUBLIC_KEY_BANNER, checkLength(key, ED25519_PUBLIC_KEY_LENGTH, 'Ed25519 public key'));
}
/** A certificate in the PEM form of its version ("NEBULA CERTIFICATE" or "NEBULA CERTIFICATE V2"). */
export function encodeCertificatePem(cert: Certificate): string {
  return encodePem(cert.details.version === 2 ? CERT_V2_BANNER : CERT_BANNER, marshalCertificate(cert));
}

export function parseX25519PrivateKeyPem(pem: string | Uint8Array): Uint8Array {
  return checkLength(decodePem(pem, X25519_PRIVATE_KEY_BANNER, 'X25519 private key'), X25519_KEY_LENGTH, 'X25519 private key');
}
export function parseX25519PublicKeyPem(pem: string | Uint8Array): Uint8Array {
  return checkLength(decodePem(pem, X25519_PUBLIC_KEY_BANNER, 'X25519 public key'), X25519_KEY_LENGTH, 'X25519 public key');
}
/** A 64-byte Go-format Ed25519 private key; checks that the public half matches the seed. */
export function parseEd25519PrivateKeyPem(pem: string | Uint8Array): Uint8Array {
  const key = checkLength(decodePem(pem, ED25519_PRIVATE_KEY_BANNER, 'Ed25519 private key'), ED25519_PRIVATE_KEY_LENGTH, 'Ed25519 private key');
  ed25519PublicFromPrivate(key);
  return key;
}
export function parseEd25519PublicKeyPem(pem: string | Uint8Array): Uint8Array {
  return checkLength(decodePem(pem, ED25519_PUBLIC_KEY_BANNER, 'Ed25519 public key'), ED25519_PUBLIC_KEY_LENGTH, 'Ed25519 public key');
}

// ---------------------------------------------------------------------------------------------
// Keys of either curve: host keys (X25519 / P256 ECDH) and CA signing keys (Ed25519 / ECDSA P256)

/** A key with the curve its PEM banner names. */
export interface CurveKey {
  curve: Curve;
  key: Uint8Array;
}

/** A new host key pair on `curve` (nebula-cert's newKeypair). */
export function generateHostKeyPair(curve: Curve): KeyPair {
  return curve === 'P256' ? generateP256KeyPair() : generateX25519KeyPair();
}

/** A new CA signing key pair on `curve`: Ed25519 (64-byte private key) or ECDSA P256 (32-byte scalar). */
export function generateSigningKeyPair(curve: Curve): KeyPair {
  return curve === 'P256' ? generateP256KeyPair() : generateEd25519KeyPair();
}

/** The public key of a CA signing key, checking the key as Nebula's VerifyPrivateKey does. */
export function signingPublicFromPrivate(curve: Curve, privateKey: Uint8Array): Uint8Array {
  if (curve === 'CURVE25519') return ed25519PublicFromPrivate(privateKey);
  try {
    return p256PublicFromPrivate(privateKey);
  } catch {
    throw new CertificateError('invalid private key');
  }
}

export function encodeHostPrivateKeyPem(curve: Curve, key: Uint8Array): string {
  if (curve === 'CURVE25519') return encodeX25519PrivateKeyPem(key);
  return encodePem(P256_PRIVATE_KEY_BANNER, checkLength(key, P256_PRIVATE_KEY_LENGTH, 'P256 private key'));
}
export function encodeHostPublicKeyPem(curve: Curve, key: Uint8Array): string {
  if (curve === 'CURVE25519') return encodeX25519PublicKeyPem(key);
  return encodePem(P256_PUBLIC_KEY_BANNER, checkLength(key, P256_PUBLIC_KEY_LENGTH, 'P256 public key'));
}
export function encodeSigningPrivateKeyPem(curve: Curve, key: Uint8Array): string {
  if (curve === 'CURVE25519') return encodeEd25519PrivateKeyPem(key);
  return encodePem(ECDSA_P256_PRIVATE_KEY_BANNER, checkLength(key, P256_PRIVATE_KEY_LENGTH, 'ECDSA P256 private key'));
}

/** A host public key (`mesh ca sign --in-pub`): X25519 (32 bytes) or P256 (65). */
export function parseHostPublicKeyPem(pem: string | Uint8Array): CurveKey {
  const block = decodePemAny(pem, [X25519_PUBLIC_KEY_BANNER, P256_PUBLIC_KEY_BANNER], 'public key');
  if (block.type === X25519_PUBLIC_KEY_BANNER) return { curve: 'CURVE25519', key: checkLength(block.bytes, X25519_KEY_LENGTH, 'X25519 public key') };
  return { curve: 'P256', key: checkLength(block.bytes, P256_PUBLIC_KEY_LENGTH, 'P256 public key') };
}

/** A CA signing key: Ed25519 (64 bytes, seed ‖ public, checked) or ECDSA P256 (a 32-byte scalar, checked). */
export function parseSigningPrivateKeyPem(pem: string | Uint8Array): CurveKey {
  const block = decodePemAny(pem, [ED25519_PRIVATE_KEY_BANNER, ECDSA_P256_PRIVATE_KEY_BANNER], 'CA private key');
  if (block.type === ED25519_PRIVATE_KEY_BANNER) return { curve: 'CURVE25519', key: parseEd25519PrivateKeyPem(pem) };
  const key = checkLength(block.bytes, P256_PRIVATE_KEY_LENGTH, 'ECDSA P256 private key');
  signingPublicFromPrivate('P256', key);
  return { curve: 'P256', key };
}

/** The first certificate of the PEM input, of either version (as Nebula's UnmarshalCertificateFromPEM). */
export function parseCertificatePem(pem: string | Uint8Array): Certificate {
  return certificateFromBlock(decodePemAny(pem, [CERT_BANNER, CERT_V2_BANNER], 'certificate'));
}

// ---------------------------------------------------------------------------------------------
// Loaders: a path or inline PEM

export function isInlinePem(value: string): boolean {
  return value.includes('-----BEGIN');
}

/** Reads a path or returns the inline PEM; `label` names the source in error messages. */
export function readPathOrPem(pathOrPem: string): { text: string; label: string } {
  if (isInlinePem(pathOrPem)) return { text: pathOrPem, label: 'inline PEM' };
  try {
    return { text: readFileSync(pathOrPem, 'latin1'), label: pathOrPem };
  } catch (err) {
    throw new CertificateError(`${pathOrPem}: ${describeFsError(err)}`);
  }
}

function load<T>(pathOrPem: string, parse: (text: string) => T): T {
  const { text, label } = readPathOrPem(pathOrPem);
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof CertificateError) throw new CertificateError(`${label}: ${err.message}`);
    throw err;
  }
}

export function loadCAPool(pathOrPem: string): CAPool {
  return load(pathOrPem, (text) => CAPool.fromPem(text));
}
export function loadCertificate(pathOrPem: string): Certificate {
  return load(pathOrPem, parseCertificatePem);
}
export function loadCertificates(pathOrPem: string): Certificate[] {
  return load(pathOrPem, parseCertificatesPem);
}
export function loadX25519PrivateKey(pathOrPem: string): Uint8Array {
  return load(pathOrPem, parseX25519PrivateKeyPem);
}
export function loadX25519PublicKey(pathOrPem: string): Uint8Array {
  return load(pathOrPem, parseX25519PublicKeyPem);
}
export function loadEd25519PrivateKey(pathOrPem: string): Uint8Array {
  return load(pathOrPem, parseEd25519PrivateKeyPem);
}
export function loadSigningPrivateKey(pathOrPem: string): CurveKey {
  return load(pathOrPem, parseSigningPrivateKeyPem);
}
export function loadHostPublicKey(pathOrPem: string): CurveKey {
  return load(pathOrPem, parseHostPublicKeyPem);
}
