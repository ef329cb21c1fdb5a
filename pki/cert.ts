/**
 * Nebula 1.6 certificates (v1): the data model, the canonical codec, signatures, fingerprints and
 * the CA-constraint checks. Wire compatibility notes: the signature covers the canonical encoding
 * of Details only; the fingerprint is SHA-256 over the canonical encoding of the whole certificate;
 * the issuer is the raw 32-byte fingerprint of the signing CA.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bitsFromMask, cidrContains, formatCidr, maskFromBits, type Cidr } from '../src/net/ipv4.js';
import { ProtobufError } from '../src/protocol/protobuf.js';
import { decodeRawCertificate, encodeRawCertificate, encodeRawDetails, type RawDetails } from './proto.js';

export interface CertificateDetails {
  name: string;
  ips: Cidr[];
  subnets: Cidr[];
  groups: string[];
  /** Unix seconds. */
  notBefore: number;
  /** Unix seconds. */
  notAfter: number;
  /** X25519 public key (host certificates) or Ed25519 public key (CA certificates), 32 bytes. */
  publicKey: Uint8Array;
  isCA: boolean;
  /** Lowercase hex fingerprint of the signing CA, '' for self-signed CA certificates. */
  issuer: string;
}

export interface Certificate {
  details: CertificateDetails;
  signature: Uint8Array;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/**
 * A Nebula v2 (ASN.1, nebula 1.10+) certificate where mesh reads v1. Detection lives here and in
 * pem.ts (the "NEBULA CERTIFICATE V2" banner) so that v2 support has one place to start from.
 */
export class UnsupportedCertificateVersionError extends CertificateError {
  /** `where` prefixes the message, e.g. "certificate #2: ". */
  constructor(where = '') {
    super(`${where}Nebula v2 certificate (nebula 1.10+); mesh reads v1: create the CA with \`nebula-cert ca -version 1\` or \`mesh ca init\``);
    this.name = 'UnsupportedCertificateVersionError';
  }
}

/** A v2 certificate is a DER SEQUENCE (0x30); a v1 one is protobuf and starts with field 1, Details (0x0a). */
function isV2CertificateBytes(bytes: Uint8Array): boolean {
  return bytes[0] === 0x30;
}

export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
export const FINGERPRINT_LENGTH = 32;

export interface UnmarshalOptions {
  /**
   * Use this public key instead of field 7 of the encoded certificate. The Nebula handshake sends
   * the certificate without its public key; the receiver inserts the Noise static key.
   */
  publicKey?: Uint8Array;
}

export interface MarshalOptions {
  /** Leave out the public key (the form sent in the Nebula handshake). */
  omitPublicKey?: boolean;
}

function pairsToCidrs(values: number[], field: string): Cidr[] {
  if (values.length % 2 !== 0) {
    throw new CertificateError(`encoded ${field} should be in pairs, an odd number was found`);
  }
  const out: Cidr[] = [];
  for (let i = 0; i < values.length; i += 2) {
    const ip = values[i]! >>> 0;
    const mask = values[i + 1]! >>> 0;
    const bits = bitsFromMask(mask);
    if (bits < 0) {
      throw new CertificateError(`encoded ${field} contains a non-contiguous netmask 0x${mask.toString(16).padStart(8, '0')}`);
    }
    out.push({ ip, bits });
  }
  return out;
}

function cidrsToPairs(cidrs: readonly Cidr[]): number[] {
  const out: number[] = [];
  for (const c of cidrs) out.push(c.ip >>> 0, maskFromBits(c.bits));
  return out;
}

export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new CertificateError(`invalid hex string "${hex}"`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Strictly decodes a certificate from its protobuf bytes. Throws UnsupportedCertificateVersionError for
 * a v2 certificate, CertificateError for malformed
 * protobuf (wrong wire types, truncation, trailing garbage), an odd number of IP/subnet values,
 * a public key, issuer or signature of the wrong length.
 */
export function unmarshalCertificate(bytes: Uint8Array, options: UnmarshalOptions = {}): Certificate {
  if (isV2CertificateBytes(bytes)) throw new UnsupportedCertificateVersionError();
  let raw;
  try {
    raw = decodeRawCertificate(bytes);
  } catch (err) {
    if (err instanceof ProtobufError) throw new CertificateError(`invalid certificate: ${err.message}`);
    throw err;
  }
  const d = raw.details;
  const ips = pairsToCidrs(d.ips, 'IPs');
  const subnets = pairsToCidrs(d.subnets, 'Subnets');
  const publicKey = options.publicKey ? Uint8Array.from(options.publicKey) : d.publicKey;
  if (publicKey.length !== PUBLIC_KEY_LENGTH) {
    throw new CertificateError(`invalid certificate: public key is ${publicKey.length} bytes, expected ${PUBLIC_KEY_LENGTH}`);
  }
  if (d.issuer.length !== 0 && d.issuer.length !== FINGERPRINT_LENGTH) {
    throw new CertificateError(`invalid certificate: issuer is ${d.issuer.length} bytes, expected ${FINGERPRINT_LENGTH}`);
  }
  if (raw.signature.length !== SIGNATURE_LENGTH) {
    throw new CertificateError(`invalid certificate: signature is ${raw.signature.length} bytes, expected ${SIGNATURE_LENGTH}`);
  }
  return {
    details: {
      name: d.name,
      ips,
      subnets,
      groups: d.groups,
      notBefore: d.notBefore,
      notAfter: d.notAfter,
      publicKey,
      isCA: d.isCA,
      issuer: bytesToHex(d.issuer),
    },
    signature: raw.signature,
  };
}

function toRawDetails(details: CertificateDetails, omitPublicKey = false): RawDetails {
  for (const c of [...details.ips, ...details.subnets]) {
    if (!Number.isInteger(c.bits) || c.bits < 0 || c.bits > 32) throw new CertificateError(`invalid prefix length in ${formatCidr(c)}`);
  }
  for (const [field, v] of [['notBefore', details.notBefore], ['notAfter', details.notAfter]] as const) {
    if (!Number.isSafeInteger(v)) throw new CertificateError(`${field} must be an integer number of seconds`);
  }
  return {
    name: details.name,
    ips: cidrsToPairs(details.ips),
    subnets: cidrsToPairs(details.subnets),
    groups: [...details.groups],
    notBefore: details.notBefore,
    notAfter: details.notAfter,
    publicKey: omitPublicKey ? new Uint8Array(0) : details.publicKey,
    isCA: details.isCA,
    issuer: hexToBytes(details.issuer),
  };
}

/** Canonical protobuf encoding of the details: the bytes that are signed. */
export function marshalDetails(details: CertificateDetails): Uint8Array {
  return encodeRawDetails(toRawDetails(details));
}

/** Canonical protobuf encoding of the whole certificate (as in a PEM file, or hashed for the fingerprint). */
export function marshalCertificate(cert: Certificate, options: MarshalOptions = {}): Uint8Array {
  return encodeRawCertificate({ details: toRawDetails(cert.details, options.omitPublicKey), signature: cert.signature });
}

/** Lowercase hex SHA-256 of the canonical encoding. */
export function certificateFingerprint(cert: Certificate): string {
  return createHash('sha256').update(marshalCertificate(cert)).digest('hex');
}

/** Signs the details with a CA's Ed25519 key (32-byte seed or 64-byte seed||pub). */
export function signDetails(details: CertificateDetails, caPrivateKey: Uint8Array): Certificate {
  const seed = ed25519Seed(caPrivateKey);
  const signature = ed25519.sign(marshalDetails(details), seed);
  return { details: cloneDetails(details), signature };
}

export function ed25519Seed(key: Uint8Array): Uint8Array {
  if (key.length === 64 || key.length === 32) return key.subarray(0, 32);
  throw new CertificateError(`Ed25519 private key must be 64 bytes, got ${key.length}`);
}


/**
 * True when the signature is a valid Ed25519 signature of the canonical details by `publicKey`.
 * OpenSSL (node:crypto) verifies per RFC 8032 like Go's crypto/ed25519, about 20x faster than the
 * pure-JS check: a lighthouse verifies one certificate per handshake.
 */
export function checkSignature(cert: Certificate, publicKey: Uint8Array): boolean {
  if (cert.signature.length !== SIGNATURE_LENGTH || publicKey.length !== PUBLIC_KEY_LENGTH) return false;
  try {
    // As JWK: OpenSSL 3 imports a raw key that way much faster than through its DER decoder.
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    return verify(null, marshalDetails(cert.details), key, cert.signature);
  } catch {
    return false;
  }
}

/** Nebula's Expired(): too young (now < NotBefore) or too old (now > NotAfter). Bounds are valid. */
export function isExpired(cert: Certificate, now: Date = new Date()): boolean {
  const ms = now.getTime();
  return cert.details.notBefore * 1000 > ms || cert.details.notAfter * 1000 < ms;
}

function netMatch(cidr: Cidr, allowed: readonly Cidr[]): boolean {
  return allowed.some((ca) => cidrContains(ca, cidr.ip) && ca.bits <= cidr.bits);
}

/**
 * Nebula's CheckRootConstrains: the certificate must lie within the signer's validity period,
 * and within its groups, IP networks and subnets when the signer restricts them.
 * Returns the reason, or undefined when the constraints hold.
 */
export function caConstraintViolation(details: CertificateDetails, signer: CertificateDetails): string | undefined {
  if (signer.notAfter < details.notAfter) return 'certificate expires after signing certificate';
  if (signer.notBefore > details.notBefore) return 'certificate is valid before the signing certificate';
  if (signer.groups.length > 0) {
    const allowed = new Set(signer.groups);
    for (const g of details.groups) {
      if (!allowed.has(g)) return `certificate contained a group not present on the signing ca: ${g}`;
    }
  }
  if (signer.ips.length > 0) {
    for (const ip of details.ips) {
      if (!netMatch(ip, signer.ips)) return `certificate contained an ip assignment outside the limitations of the signing ca: ${formatCidr(ip)}`;
    }
  }
  if (signer.subnets.length > 0) {
    for (const s of details.subnets) {
      if (!netMatch(s, signer.subnets)) return `certificate contained a subnet assignment outside the limitations of the signing ca: ${formatCidr(s)}`;
    }
  }
  return undefined;
}

export function cloneDetails(d: CertificateDetails): CertificateDetails {
  return {
    name: d.name,
    ips: d.ips.map((c) => ({ ip: c.ip, bits: c.bits })),
    subnets: d.subnets.map((c) => ({ ip: c.ip, bits: c.bits })),
    groups: [...d.groups],
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    publicKey: Uint8Array.from(d.publicKey),
    isCA: d.isCA,
    issuer: d.issuer,
  };
}

// ---------------------------------------------------------------------------------------------
// Printing, in the formats of `nebula-cert print` and `nebula-cert print -json`

/** Go's encoding/json string escaping (HTML-safe, \u00XX for control characters). */
function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || ch === '<' || ch === '>' || ch === '&' || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

function pad(n: number, width = 2): string {
  return String(Math.abs(n)).padStart(width, '0');
}

function localParts(unixSeconds: number): { date: Date; offsetMinutes: number } {
  const date = new Date(unixSeconds * 1000);
  return { date, offsetMinutes: -date.getTimezoneOffset() };
}

function localDateTime(date: Date, sep: string): string {
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}${sep}${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Go's time.Time JSON form (RFC 3339 in the local time zone), as nebula-cert prints it. */
export function formatTimeRfc3339(unixSeconds: number): string {
  const { date, offsetMinutes } = localParts(unixSeconds);
  const zone =
    offsetMinutes === 0 ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.trunc(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`;
  return localDateTime(date, 'T') + zone;
}

/** Go's time.Time String() form, e.g. "2026-11-23 11:15:38 +0000 UTC". */
export function formatTimeGo(unixSeconds: number): string {
  const { date, offsetMinutes } = localParts(unixSeconds);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const numeric = `${sign}${pad(Math.trunc(offsetMinutes / 60))}${pad(offsetMinutes % 60)}`;
  let abbrev = offsetMinutes === 0 ? 'UTC' : '';
  if (!abbrev) {
    // Go prints the zone database abbreviation; ICU knows it for some locales, else Go's numeric form.
    for (const locale of ['en-US', 'en-GB']) {
      const name = new Intl.DateTimeFormat(locale, { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value;
      if (name && /^[A-Z]{2,5}$/.test(name) && name !== 'GMT' && name !== 'UTC') {
        abbrev = name;
        break;
      }
    }
    if (!abbrev) abbrev = offsetMinutes % 60 === 0 ? `${sign}${pad(Math.trunc(offsetMinutes / 60))}` : numeric;
  }
  return `${localDateTime(date, ' ')} ${numeric} ${abbrev}`;
}

/** The JSON of `nebula-cert print -json` (Go map keys sorted, no spaces, HTML-escaped). */
export function certificateToJson(cert: Certificate): string {
  const d = cert.details;
  const list = (items: string[]) => `[${items.map(goJsonString).join(',')}]`;
  return (
    `{"details":{` +
    `"groups":${list(d.groups)},` +
    `"ips":${list(d.ips.map(formatCidr))},` +
    `"isCa":${d.isCA},` +
    `"issuer":${goJsonString(d.issuer)},` +
    `"name":${goJsonString(d.name)},` +
    `"notAfter":${goJsonString(formatTimeRfc3339(d.notAfter))},` +
    `"notBefore":${goJsonString(formatTimeRfc3339(d.notBefore))},` +
    `"publicKey":${goJsonString(bytesToHex(d.publicKey))},` +
    `"subnets":${list(d.subnets.map(formatCidr))}` +
    `},"fingerprint":${goJsonString(certificateFingerprint(cert))},` +
    `"signature":${goJsonString(bytesToHex(cert.signature))}}`
  );
}

/** The text form of `nebula-cert print`. */
export function certificateToText(cert: Certificate): string {
  const d = cert.details;
  const list = (label: string, items: string[]) =>
    items.length === 0 ? `\t\t${label}: []\n` : `\t\t${label}: [\n${items.map((i) => `\t\t\t${i}\n`).join('')}\t\t]\n`;
  return (
    'NebulaCertificate {\n' +
    '\tDetails {\n' +
    `\t\tName: ${d.name}\n` +
    list('Ips', d.ips.map(formatCidr)) +
    list('Subnets', d.subnets.map(formatCidr)) +
    list('Groups', d.groups.map((g) => `"${g}"`)) +
    `\t\tNot before: ${formatTimeGo(d.notBefore)}\n` +
    `\t\tNot After: ${formatTimeGo(d.notAfter)}\n` +
    `\t\tIs CA: ${d.isCA}\n` +
    `\t\tIssuer: ${d.issuer}\n` +
    `\t\tPublic key: ${bytesToHex(d.publicKey)}\n` +
    '\t}\n' +
    `\tFingerprint: ${certificateFingerprint(cert)}\n` +
    `\tSignature: ${bytesToHex(cert.signature)}\n` +
    '}'
  );
}
