/**
 * Nebula certificates: the data model shared by both formats, the v1 (Nebula 1.6, protobuf)
 * codec, and the version-dispatching entry points (marshal, fingerprint, sign, check, print) over
 * v1 and v2 (./cert-v2.ts). v1 wire notes: the signature covers the canonical encoding of Details
 * only; the fingerprint is SHA-256 over the canonical encoding of the whole certificate; the
 * issuer is the raw 32-byte fingerprint of the signing CA.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { formatIpNetwork, ipNetworkContains, ipNetworkFromCidr, ipv4Cidr, type IpNetwork } from '../src/net/ip.js';
import { bitsFromMask, maskFromBits, type Cidr } from '../src/net/ipv4.js';
import { ProtobufError } from '../src/protocol/protobuf.js';
import { decodeRawCertificate, encodeRawCertificate, encodeRawDetails, type RawDetails } from './proto.js';
import { fingerprintV2, marshalCertificateV2, marshalDetailsV2, rawDetailsOf, signedBytesV2, unmarshalCertificateV2, validateV2 } from './cert-v2.js';
import { p256Sign, p256Verify } from './p256.js';

export type CertificateVersion = 1 | 2;
export type Curve = 'CURVE25519' | 'P256';

/** A certificate's contents, the same shape for Nebula's v1 (protobuf) and v2 (ASN.1) formats. */
export interface CertificateDetails {
  version: CertificateVersion;
  name: string;
  /** The host's overlay addresses with their network's prefix length (v1: "ips", IPv4 only). */
  networks: IpNetwork[];
  /** Networks routed through this host (v1: "subnets", IPv4 only). */
  unsafeNetworks: IpNetwork[];
  groups: string[];
  /** Unix seconds. */
  notBefore: number;
  /** Unix seconds. */
  notAfter: number;
  /** X25519 public key (host certificates) or Ed25519 public key (CA certificates), 32 bytes. */
  publicKey: Uint8Array;
  curve: Curve;
  isCA: boolean;
  /** Lowercase hex fingerprint of the signing CA, '' for self-signed CA certificates. */
  issuer: string;
}

export interface Certificate {
  details: CertificateDetails;
  signature: Uint8Array;
  /**
   * v2: the Details element exactly as read or signed. The signature and the fingerprint cover
   * these bytes, not a re-encoding of `details`; build a new certificate (signDetails) to change
   * the details.
   */
  rawDetails?: Uint8Array;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
export const FINGERPRINT_LENGTH = 32;

export interface UnmarshalOptions {
  /** The format: 1 (protobuf, the default) or 2 (ASN.1 DER). PEM files say it in their banner. */
  version?: CertificateVersion;
  /**
   * Use this public key instead of the encoded one. The Nebula handshake sends the certificate
   * without its public key; the receiver inserts the Noise static key (a v2 certificate must then
   * carry none).
   */
  publicKey?: Uint8Array;
  /** v2: the curve when the encoding has no curve element (default CURVE25519). */
  curve?: Curve;
}

export interface MarshalOptions {
  /** The form sent in the Nebula handshake: without the public key (v2: and without the curve). */
  omitPublicKey?: boolean;
}

function pairsToNetworks(values: number[], field: string): IpNetwork[] {
  if (values.length % 2 !== 0) {
    throw new CertificateError(`encoded ${field} should be in pairs, an odd number was found`);
  }
  const out: IpNetwork[] = [];
  for (let i = 0; i < values.length; i += 2) {
    const ip = values[i]! >>> 0;
    const mask = values[i + 1]! >>> 0;
    const bits = bitsFromMask(mask);
    if (bits < 0) {
      throw new CertificateError(`encoded ${field} contains a non-contiguous netmask 0x${mask.toString(16).padStart(8, '0')}`);
    }
    out.push(ipNetworkFromCidr({ ip, bits }));
  }
  return out;
}

/** v1's (address, netmask) pairs; v1 carries IPv4 only. */
function networksToPairs(networks: readonly IpNetwork[], field: string): number[] {
  const out: number[] = [];
  for (const n of networks) {
    if (n.family !== 4) throw new CertificateError(`a v1 certificate carries IPv4 ${field} only, not ${formatIpNetwork(n)}`);
    const c: Cidr = ipv4Cidr(n);
    if (!Number.isInteger(c.bits) || c.bits < 0 || c.bits > 32) throw new CertificateError(`invalid prefix length in ${formatIpNetwork(n)}`);
    out.push(c.ip >>> 0, maskFromBits(c.bits));
  }
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
 * Strictly decodes a certificate. v1: throws CertificateError for malformed protobuf (wrong wire
 * types, truncation, trailing garbage), an odd number of IP/subnet values, a public key, issuer or
 * signature of the wrong length. v2: Nebula's parser and validate() (./cert-v2.ts).
 */
export function unmarshalCertificate(bytes: Uint8Array, options: UnmarshalOptions = {}): Certificate {
  if (options.version === 2) return unmarshalCertificateV2(bytes, options);
  let raw;
  try {
    raw = decodeRawCertificate(bytes);
  } catch (err) {
    if (err instanceof ProtobufError) throw new CertificateError(`invalid certificate: ${err.message}`);
    throw err;
  }
  const d = raw.details;
  const networks = pairsToNetworks(d.ips, 'IPs');
  const unsafeNetworks = pairsToNetworks(d.subnets, 'Subnets');
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
      version: 1,
      name: d.name,
      networks,
      unsafeNetworks,
      groups: d.groups,
      notBefore: d.notBefore,
      notAfter: d.notAfter,
      publicKey,
      curve: 'CURVE25519',
      isCA: d.isCA,
      issuer: bytesToHex(d.issuer),
    },
    signature: raw.signature,
  };
}

function toRawDetails(details: CertificateDetails, omitPublicKey = false): RawDetails {
  if (details.version !== 1 || details.curve !== 'CURVE25519') throw new CertificateError('the protobuf (v1) encoding is for version 1 CURVE25519 certificates');
  for (const [field, v] of [['notBefore', details.notBefore], ['notAfter', details.notAfter]] as const) {
    if (!Number.isSafeInteger(v)) throw new CertificateError(`${field} must be an integer number of seconds`);
  }
  return {
    name: details.name,
    ips: networksToPairs(details.networks, 'networks'),
    subnets: networksToPairs(details.unsafeNetworks, 'unsafe networks'),
    groups: [...details.groups],
    notBefore: details.notBefore,
    notAfter: details.notAfter,
    publicKey: omitPublicKey ? new Uint8Array(0) : details.publicKey,
    isCA: details.isCA,
    issuer: hexToBytes(details.issuer),
  };
}

/** v1: the canonical protobuf encoding of the details, the bytes that are signed. */
export function marshalDetails(details: CertificateDetails): Uint8Array {
  return encodeRawDetails(toRawDetails(details));
}

/** The bytes the CA signs: v1 the protobuf details, v2 rawDetails ‖ curve byte ‖ public key. */
export function signedBytes(cert: Certificate): Uint8Array {
  return cert.details.version === 2 ? signedBytesV2(cert.details, rawDetailsOf(cert)) : marshalDetails(cert.details);
}

/**
 * The encoding of the whole certificate: v1 canonical protobuf, v2 DER (as in a PEM file). With
 * omitPublicKey, the form sent in handshakes.
 */
export function marshalCertificate(cert: Certificate, options: MarshalOptions = {}): Uint8Array {
  if (cert.details.version === 2) return marshalCertificateV2(cert, { forHandshake: options.omitPublicKey === true });
  return encodeRawCertificate({ details: toRawDetails(cert.details, options.omitPublicKey), signature: cert.signature });
}

/** The certificate as a handshake carries it (Nebula's MarshalForHandshakes): without the key (v2: and curve). */
export function marshalCertificateForHandshake(cert: Certificate): Uint8Array {
  return marshalCertificate(cert, { omitPublicKey: true });
}

/**
 * A peer's certificate from a handshake (Nebula's cert.Recombine): `version` is the handshake's
 * CertVersion (0 and 1 select v1), `publicKey` the peer's Noise static key, which becomes the
 * certificate's key (a v2 certificate must carry none), and `curve` the receiver's own
 * certificate curve, which the peer's must equal. The result still has to pass CAPool.verify.
 */
export function unmarshalHandshakeCertificate(version: number, bytes: Uint8Array, publicKey: Uint8Array, curve: Curve = 'CURVE25519'): Certificate {
  if (publicKey.length === 0) throw new CertificateError('no peer static key was present');
  if (bytes.length === 0) throw new CertificateError('provided payload was empty');
  let cert: Certificate;
  if (version === 0 || version === 1) cert = unmarshalCertificate(bytes, { version: 1, publicKey });
  else if (version === 2) cert = unmarshalCertificateV2(bytes, { publicKey, curve });
  else throw new CertificateError('certificate version unrecognized');
  if (cert.details.curve !== curve) throw new CertificateError(`certificate curve ${cert.details.curve} does not match expected ${curve}`);
  return cert;
}

/** Lowercase hex fingerprint: v1 SHA-256 of the canonical encoding, v2 that of signed bytes ‖ signature. */
export function certificateFingerprint(cert: Certificate): string {
  if (cert.details.version === 2) return fingerprintV2(cert);
  return createHash('sha256').update(marshalCertificate(cert)).digest('hex');
}

/**
 * Signs the details with a CA key: CURVE25519, an Ed25519 key (32-byte seed or 64-byte
 * seed||pub); P256 (v2 only), a 32-byte ECDSA scalar. v2 details are validated (and their
 * networks sorted) first, as Nebula's signer does.
 */
export function signDetails(details: CertificateDetails, caPrivateKey: Uint8Array): Certificate {
  const copy = cloneDetails(details);
  if (copy.version !== 2) {
    return { details: copy, signature: ed25519.sign(marshalDetails(copy), ed25519Seed(caPrivateKey)) };
  }
  validateV2(copy);
  const rawDetails = marshalDetailsV2(copy);
  const tbs = signedBytesV2(copy, rawDetails);
  const signature = copy.curve === 'P256' ? p256Sign(tbs, caPrivateKey) : ed25519.sign(tbs, ed25519Seed(caPrivateKey));
  return { details: copy, signature, rawDetails };
}

export function ed25519Seed(key: Uint8Array): Uint8Array {
  if (key.length === 64 || key.length === 32) return key.subarray(0, 32);
  throw new CertificateError(`Ed25519 private key must be 64 bytes, got ${key.length}`);
}

/** True when the signature is a valid signature of the signed bytes by the CA key `publicKey` (Ed25519 or P256). */
export function checkSignature(cert: Certificate, publicKey: Uint8Array): boolean {
  try {
    if (cert.details.curve === 'P256') return p256Verify(signedBytes(cert), cert.signature, publicKey);
    if (cert.signature.length !== SIGNATURE_LENGTH || publicKey.length !== PUBLIC_KEY_LENGTH) return false;
    // OpenSSL's Ed25519 (strict RFC 8032, like noble's zip215: false) is ~20x faster than pure JS:
    // a handshake flood with forged signatures makes us check one per admitted message 1.
    return verify(null, signedBytes(cert), ed25519PublicKeyObject(publicKey), cert.signature);
  } catch {
    return false;
  }
}

/** KeyObjects of the CA keys signatures are checked against (few: one per CA in the pool). */
const ed25519Keys = new Map<string, KeyObject>();

/** Drops those KeyObjects (for the start-up snapshot, which cannot hold one). */
export function forgetCAKeyObjects(): void {
  ed25519Keys.clear();
}

function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  const x = Buffer.from(raw).toString('base64url');
  let key = ed25519Keys.get(x);
  if (!key) {
    // As JWK: OpenSSL 3 imports a raw key that way much faster than through its DER decoder.
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    if (ed25519Keys.size >= 256) ed25519Keys.clear();
    ed25519Keys.set(x, key);
  }
  return key;
}

/** Nebula's Expired(): too young (now < NotBefore) or too old (now > NotAfter). Bounds are valid. */
export function isExpired(cert: Certificate, now: Date = new Date()): boolean {
  const ms = now.getTime();
  return cert.details.notBefore * 1000 > ms || cert.details.notAfter * 1000 < ms;
}

function netMatch(n: IpNetwork, allowed: readonly IpNetwork[]): boolean {
  return allowed.some((ca) => ipNetworkContains(ca, { family: n.family, value: n.addr }) && ca.bits <= n.bits);
}

/**
 * Nebula's checkCAConstraints: the certificate must lie within the signer's validity period,
 * and within its groups, networks and unsafe networks when the signer restricts them (a network
 * lies within a CA network of the same family, at least as long a prefix). Returns the reason
 * (v1: nebula 1.6's words, v2: nebula 1.10's), or undefined when the constraints hold.
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
  if (signer.networks.length > 0) {
    for (const ip of details.networks) {
      if (!netMatch(ip, signer.networks)) return `certificate contained ${details.version === 2 ? 'a network' : 'an ip'} assignment outside the limitations of the signing ca: ${formatIpNetwork(ip)}`;
    }
  }
  if (signer.unsafeNetworks.length > 0) {
    for (const s of details.unsafeNetworks) {
      if (!netMatch(s, signer.unsafeNetworks)) return `certificate contained ${details.version === 2 ? 'an unsafe network' : 'a subnet'} assignment outside the limitations of the signing ca: ${formatIpNetwork(s)}`;
    }
  }
  return undefined;
}

export function cloneDetails(d: CertificateDetails): CertificateDetails {
  return {
    version: d.version,
    name: d.name,
    networks: d.networks.map((n) => ({ ...n })),
    unsafeNetworks: d.unsafeNetworks.map((n) => ({ ...n })),
    groups: [...d.groups],
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    publicKey: Uint8Array.from(d.publicKey),
    curve: d.curve,
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

type GoJsonValue = string | number | boolean | null | GoJsonValue[] | { [key: string]: GoJsonValue };

/** Go's encoding/json: map keys sorted; compact, or json.MarshalIndent's layout with `indent`. */
function goJson(value: GoJsonValue, indent = '', depth = 0): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return goJsonString(value);
  const items = Array.isArray(value)
    ? value.map((v) => goJson(v, indent, depth + 1))
    : Object.keys(value)
        .sort()
        .map((k) => `${goJsonString(k)}:${indent ? ' ' : ''}${goJson(value[k]!, indent, depth + 1)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (items.length === 0) return open + close;
  if (!indent) return open + items.join(',') + close;
  const inner = `\n${indent.repeat(depth + 1)}`;
  return `${open}${inner}${items.join(`,${inner}`)}\n${indent.repeat(depth)}${close}`;
}

/**
 * Nebula 1.10's marshalJSON map. v2 lists Nebula holds as nil slices (every empty one) print as
 * null; v1 ones are always allocated and print as [].
 */
function nebula110JsonValue(cert: Certificate): GoJsonValue {
  const d = cert.details;
  if (d.version === 1) {
    return {
      version: 1,
      details: {
        name: d.name,
        networks: d.networks.map(formatIpNetwork),
        unsafeNetworks: d.unsafeNetworks.map(formatIpNetwork),
        groups: d.groups,
        notBefore: formatTimeRfc3339(d.notBefore),
        notAfter: formatTimeRfc3339(d.notAfter),
        publicKey: bytesToHex(d.publicKey),
        isCa: d.isCA,
        issuer: d.issuer,
        curve: d.curve,
      },
      fingerprint: certificateFingerprint(cert),
      signature: bytesToHex(cert.signature),
    };
  }
  const list = (items: string[]) => (items.length === 0 ? null : items);
  return {
    details: {
      name: d.name,
      networks: list(d.networks.map(formatIpNetwork)),
      unsafeNetworks: list(d.unsafeNetworks.map(formatIpNetwork)),
      groups: list(d.groups),
      notBefore: formatTimeRfc3339(d.notBefore),
      notAfter: formatTimeRfc3339(d.notAfter),
      isCa: d.isCA,
      issuer: d.issuer,
    },
    version: 2,
    publicKey: bytesToHex(d.publicKey),
    curve: d.curve,
    fingerprint: certificateFingerprint(cert),
    signature: bytesToHex(cert.signature),
  };
}

/**
 * Which nebula-cert a print imitates: 1.6 knows v1 only; 1.10 prints both versions, in its own
 * JSON form. The default is 1.6 for v1 certificates and 1.10 for v2.
 */
export type PrintFormat = '1.6' | '1.10';

const defaultFormat = (cert: Certificate): PrintFormat => (cert.details.version === 2 ? '1.10' : '1.6');

/** The JSON of one certificate in `nebula-cert print -json` (Go map keys sorted, no spaces, HTML-escaped). */
export function certificateToJson(cert: Certificate, format: PrintFormat = defaultFormat(cert)): string {
  if (format === '1.10') return goJson(nebula110JsonValue(cert));
  if (cert.details.version !== 1) throw new CertificateError('nebula-cert 1.6 prints v1 certificates only');
  const d = cert.details;
  const list = (items: string[]) => `[${items.map(goJsonString).join(',')}]`;
  return (
    `{"details":{` +
    `"groups":${list(d.groups)},` +
    `"ips":${list(d.networks.map(formatIpNetwork))},` +
    `"isCa":${d.isCA},` +
    `"issuer":${goJsonString(d.issuer)},` +
    `"name":${goJsonString(d.name)},` +
    `"notAfter":${goJsonString(formatTimeRfc3339(d.notAfter))},` +
    `"notBefore":${goJsonString(formatTimeRfc3339(d.notBefore))},` +
    `"publicKey":${goJsonString(bytesToHex(d.publicKey))},` +
    `"subnets":${list(d.unsafeNetworks.map(formatIpNetwork))}` +
    `},"fingerprint":${goJsonString(certificateFingerprint(cert))},` +
    `"signature":${goJsonString(bytesToHex(cert.signature))}}`
  );
}

/** The text form of `nebula-cert print`: 1.6's own layout, or 1.10's tab-indented JSON. */
export function certificateToText(cert: Certificate, format: PrintFormat = defaultFormat(cert)): string {
  if (format === '1.10') return goJson(nebula110JsonValue(cert), '\t');
  if (cert.details.version !== 1) throw new CertificateError('nebula-cert 1.6 prints v1 certificates only');
  const d = cert.details;
  const list = (label: string, items: string[]) =>
    items.length === 0 ? `\t\t${label}: []\n` : `\t\t${label}: [\n${items.map((i) => `\t\t\t${i}\n`).join('')}\t\t]\n`;
  return (
    'NebulaCertificate {\n' +
    '\tDetails {\n' +
    `\t\tName: ${d.name}\n` +
    list('Ips', d.networks.map(formatIpNetwork)) +
    list('Subnets', d.unsafeNetworks.map(formatIpNetwork)) +
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
