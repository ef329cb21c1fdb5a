/**
 * Revocation lists (a mesh extension; Nebula only has the per-host pki.blocklist): the fingerprints
 * of revoked certificates, signed by a CA's Ed25519 key, versioned so that a node keeps only the
 * newest list of each CA. `mesh ca revoke` writes them; lighthouses hand them to every host
 * (NebulaMeta type MeshRevocations).
 *
 * Encoding (big-endian), signed as a whole by the CA:
 *   "MRL1" | issuer CA fingerprint (32) | version (uint64) | count (uint32) | count × fingerprint (32) | Ed25519 signature (64)
 * In a file it is one PEM block "MESH REVOCATION LIST".
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import type { CAPool } from './ca-pool.js';
import { certificateFingerprint, CertificateError, ed25519Seed, type Certificate } from './cert.js';
import { decodePem, encodePem } from './pem.js';

export const REVOCATION_BANNER = 'MESH REVOCATION LIST';
const MAGIC = Buffer.from('MRL1');
const FINGERPRINT_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
const HEADER_LENGTH = MAGIC.length + FINGERPRINT_LENGTH + 8 + 4;
/** More would not fit a datagram comfortably; a CA that revokes this many should roll. */
export const MAX_REVOKED = 1000;

export interface RevocationList {
  /** Lowercase hex fingerprint of the signing CA. */
  issuer: string;
  /** Grows with every change (`mesh ca revoke` uses milliseconds since the epoch). */
  version: number;
  /** Lowercase hex fingerprints of the revoked certificates, sorted. */
  fingerprints: string[];
  signature: Uint8Array;
}

function body(issuer: string, version: number, fingerprints: readonly string[]): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH + fingerprints.length * FINGERPRINT_LENGTH);
  MAGIC.copy(out, 0);
  Buffer.from(issuer, 'hex').copy(out, MAGIC.length);
  out.writeBigUInt64BE(BigInt(version), MAGIC.length + FINGERPRINT_LENGTH);
  out.writeUInt32BE(fingerprints.length, MAGIC.length + FINGERPRINT_LENGTH + 8);
  fingerprints.forEach((f, i) => Buffer.from(f, 'hex').copy(out, HEADER_LENGTH + i * FINGERPRINT_LENGTH));
  return out;
}

function checkFingerprint(f: string): string {
  const lower = f.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(lower)) throw new CertificateError(`"${f}" is not a certificate fingerprint (64 hex digits)`);
  return lower;
}

/** Signs a list of `fingerprints` (deduplicated, sorted) with the CA key; the key must be the CA's. */
export function signRevocationList(caCert: Certificate, caKey: Uint8Array, version: number, fingerprints: readonly string[]): RevocationList {
  if (!caCert.details.isCA) throw new CertificateError('the signing certificate is not a CA');
  const seed = ed25519Seed(caKey);
  if (!Buffer.from(ed25519.getPublicKey(seed)).equals(Buffer.from(caCert.details.publicKey))) throw new CertificateError('the CA key does not belong to the CA certificate');
  if (!Number.isSafeInteger(version) || version < 0) throw new CertificateError(`revocation list version ${version} is not a whole number`);
  const sorted = [...new Set(fingerprints.map(checkFingerprint))].sort();
  if (sorted.length > MAX_REVOKED) throw new CertificateError(`a revocation list holds at most ${MAX_REVOKED} certificates`);
  const issuer = certificateFingerprint(caCert);
  return { issuer, version, fingerprints: sorted, signature: ed25519.sign(body(issuer, version, sorted), seed) };
}

export function encodeRevocationList(list: RevocationList): Uint8Array {
  return Buffer.concat([body(list.issuer, list.version, list.fingerprints), list.signature]);
}

/** Decodes the bytes (not the signature: see verifyRevocationList); throws CertificateError when malformed. */
export function decodeRevocationList(bytes: Uint8Array): RevocationList {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER_LENGTH + SIGNATURE_LENGTH || !b.subarray(0, MAGIC.length).equals(MAGIC)) throw new CertificateError('not a mesh revocation list');
  const count = b.readUInt32BE(MAGIC.length + FINGERPRINT_LENGTH + 8);
  if (count > MAX_REVOKED || b.length !== HEADER_LENGTH + count * FINGERPRINT_LENGTH + SIGNATURE_LENGTH) throw new CertificateError('revocation list: bad length');
  const version = b.readBigUInt64BE(MAGIC.length + FINGERPRINT_LENGTH);
  if (version > BigInt(Number.MAX_SAFE_INTEGER)) throw new CertificateError('revocation list: version out of range');
  const fingerprints: string[] = [];
  for (let i = 0; i < count; i++) fingerprints.push(b.toString('hex', HEADER_LENGTH + i * FINGERPRINT_LENGTH, HEADER_LENGTH + (i + 1) * FINGERPRINT_LENGTH));
  return {
    issuer: b.toString('hex', MAGIC.length, MAGIC.length + FINGERPRINT_LENGTH),
    version: Number(version),
    fingerprints,
    signature: Uint8Array.from(b.subarray(b.length - SIGNATURE_LENGTH)),
  };
}

/** Throws unless the list is signed by a CA in `pool` (expired CAs included: revocations stay valid). */
export function verifyRevocationList(list: RevocationList, pool: CAPool): void {
  const ca = pool.get(list.issuer);
  if (!ca) throw new CertificateError(`revocation list signed by CA ${list.issuer.slice(0, 16)}..., which is not trusted here`);
  let ok = false;
  try {
    ok = ed25519.verify(list.signature, body(list.issuer, list.version, list.fingerprints), ca.details.publicKey, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) throw new CertificateError(`revocation list: bad signature for CA ${ca.details.name}`);
}

export function encodeRevocationListPem(list: RevocationList): string {
  return encodePem(REVOCATION_BANNER, encodeRevocationList(list));
}

export function parseRevocationListPem(pem: string | Uint8Array): RevocationList {
  return decodeRevocationList(decodePem(pem, REVOCATION_BANNER, 'revocation list'));
}
