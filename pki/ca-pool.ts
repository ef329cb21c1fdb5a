/**
 * A pool of trusted CA certificates (Nebula's pki.ca), v1 and v2 alike, and verification of peer
 * certificates against it in the order of Nebula's VerifyCertificate(): blocklist, issuer, curve,
 * CA expiry, expiry, signature, CA constraints, then (P256) the alternate fingerprint. A
 * certificate's issuer is the fingerprint of its CA's own encoding, so a v1 CA and its v2
 * counterpart are different entries, each verifying the certificates it signed.
 */
import {
  caConstraintViolation,
  certificateFingerprint,
  checkSignature,
  CertificateError,
  isExpired,
  type Certificate,
} from './cert.js';
import { p256SwapSignature } from './p256.js';
import { parseCertificatesPem } from './pem.js';

interface PoolEntry {
  cert: Certificate;
  fingerprint: string;
  publicKey: Uint8Array;
}

/** How many successfully verified (certificate, CA) pairs are remembered to skip the Ed25519 check. */
const SIGNATURE_CACHE_SIZE = 4096;

export class CAPool {
  readonly cas: readonly Certificate[];
  private readonly byFingerprint = new Map<string, PoolEntry>();
  private readonly blocklist = new Set<string>();
  private readonly verifiedSignatures = new Map<string, true>();

  private constructor(cas: readonly Certificate[]) {
    const list: Certificate[] = [];
    for (const cert of cas) {
      const label = cert.details.name;
      if (!cert.details.isCA) throw new CertificateError(`${label}: certificate is not a CA`);
      if (!checkSignature(cert, cert.details.publicKey)) throw new CertificateError(`${label}: certificate is not self-signed`);
      const fingerprint = certificateFingerprint(cert);
      if (this.byFingerprint.has(fingerprint)) continue;
      this.byFingerprint.set(fingerprint, { cert, fingerprint, publicKey: Uint8Array.from(cert.details.publicKey) });
      list.push(cert);
    }
    if (list.length === 0) throw new CertificateError('no CA certificates found');
    this.cas = Object.freeze(list);
  }

  /** Builds a pool from already decoded CA certificates (each must be a CA with a valid self-signature). */
  static fromCertificates(cas: readonly Certificate[]): CAPool {
    return new CAPool(cas);
  }

  /** Parses concatenated `NEBULA CERTIFICATE` / `NEBULA CERTIFICATE V2` PEM blocks. Expired CAs are kept (see expired()). */
  static fromPem(pem: string | Uint8Array): CAPool {
    return new CAPool(parseCertificatesPem(pem));
  }

  get(fingerprint: string): Certificate | undefined {
    return this.byFingerprint.get(fingerprint.toLowerCase())?.cert;
  }

  get fingerprints(): string[] {
    return [...this.byFingerprint.keys()];
  }

  /** The CAs that are expired (or not yet valid) at `now`. */
  expired(now: Date = new Date()): Certificate[] {
    return this.cas.filter((c) => isExpired(c, now));
  }

  /** Adds a fingerprint to the pool's own blocklist (pki.blocklist). */
  blocklistFingerprint(fingerprint: string): void {
    this.blocklist.add(fingerprint.toLowerCase());
  }

  /** The CA that signed `cert` (by its issuer field); throws when there is none in the pool. */
  caFor(cert: Certificate): Certificate {
    return this.entryFor(cert).cert;
  }

  private entryFor(cert: Certificate): PoolEntry {
    if (cert.details.issuer === '') throw new CertificateError('no issuer in certificate');
    const entry = this.byFingerprint.get(cert.details.issuer.toLowerCase());
    if (!entry) throw new CertificateError('could not find ca for the certificate');
    return entry;
  }

  /**
   * Verifies a peer certificate at `now`. Throws CertificateError with Nebula's reason, e.g.
   * "certificate is expired", "root certificate is expired", "certificate signature did not match",
   * "certificate is in the block list", "could not find ca for the certificate".
   */
  verify(cert: Certificate, now: Date = new Date(), blocklist?: ReadonlySet<string>): void {
    const fingerprint = certificateFingerprint(cert);
    if (this.blocklist.has(fingerprint) || blocklist?.has(fingerprint)) throw new CertificateError('certificate is in the block list');
    const ca = this.entryFor(cert);
    if (ca.cert.details.curve !== cert.details.curve) throw new CertificateError('certificate curve does not match CA');
    if (isExpired(ca.cert, now)) throw new CertificateError('root certificate is expired');
    if (isExpired(cert, now)) throw new CertificateError('certificate is expired');
    const cacheKey = `${fingerprint}/${ca.fingerprint}`;
    if (!this.verifiedSignatures.has(cacheKey)) {
      if (!checkSignature(cert, ca.publicKey)) throw new CertificateError('certificate signature did not match');
      if (this.verifiedSignatures.size >= SIGNATURE_CACHE_SIZE) {
        const oldest = this.verifiedSignatures.keys().next().value;
        if (oldest !== undefined) this.verifiedSignatures.delete(oldest);
      }
      this.verifiedSignatures.set(cacheKey, true);
    }
    const violation = caConstraintViolation(cert.details, ca.cert.details);
    if (violation) throw new CertificateError(violation);
    if (cert.details.curve === 'P256') {
      // The same P256 signature with s negated verifies too: a blocked fingerprint covers both forms.
      const alternate = certificateFingerprint({ ...cert, signature: p256SwapSignature(cert.signature) });
      if (this.blocklist.has(alternate) || blocklist?.has(alternate)) throw new CertificateError('certificate is in the block list');
    }
  }

  /** verify() as a boolean. */
  isValid(cert: Certificate, now: Date = new Date(), blocklist?: ReadonlySet<string>): boolean {
    try {
      this.verify(cert, now, blocklist);
      return true;
    } catch {
      return false;
    }
  }
}
