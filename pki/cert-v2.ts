/**
 * Nebula v2 certificates (Nebula 1.10+): ASN.1 DER, several networks of both families, curves
 * CURVE25519 and P256. The signature covers rawDetails ‖ curve byte ‖ public key, and the
 * fingerprint is SHA-256 of those and the signature, so a parsed certificate keeps its Details
 * bytes as read: re-marshalling, signatures and fingerprints survive encodings other than ours.
 * Parsing is as strict as Nebula's (cryptobyte) and as lenient where Nebula is (trailing data,
 * fields after the issuer), and runs Nebula's validate(); every format error is "bad wire format".
 */
import { createHash } from 'node:crypto';
import { formatIpNetwork, type IpNetwork } from '../src/net/ip.js';
import { CertificateError, type Certificate, type CertificateDetails, type Curve } from './cert.js';
import { DerError, DerReader, derElement, derInt64Content } from './der.js';

export const MAX_CERTIFICATE_SIZE = 65536;
export const MAX_NAME_LENGTH = 253;
const MAX_NETWORK_LENGTH = 17;

const TAG = {
  sequence: 0x30,
  octetString: 0x04,
  utf8String: 0x0c,
  details: 0xa0,
  curve: 0x81,
  publicKey: 0x82,
  signature: 0x83,
  name: 0x80,
  networks: 0xa1,
  unsafeNetworks: 0xa2,
  groups: 0xa3,
  isCA: 0x84,
  notBefore: 0x85,
  notAfter: 0x86,
  issuer: 0x87,
} as const;

const CURVE_BYTES: Record<Curve, number> = { CURVE25519: 0, P256: 1 };

export function curveByte(curve: Curve): number {
  return CURVE_BYTES[curve];
}

function curveFromByte(byte: number): Curve {
  if (byte === 0) return 'CURVE25519';
  if (byte === 1) return 'P256';
  throw new CertificateError(`unsupported curve ${byte}`);
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function bigintBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** netip.Prefix.MarshalBinary: the address as written (4 or 16 bytes), then the prefix length. */
function networkBytes(n: IpNetwork): Uint8Array {
  const width = n.family === 4 ? 4 : 16;
  const out = new Uint8Array(width + 1);
  out.set(bigintBytes(n.addr, width), 0);
  out[width] = n.bits;
  return out;
}

/** A network value as Nebula reads it; a prefix length beyond the address is kept for validate() to refuse. */
function networkFromBytes(value: Uint8Array): IpNetwork | null {
  const addrLength = value.length - 1;
  if (addrLength === 0) return null;
  if (addrLength !== 4 && addrLength !== 16) throw new DerError();
  let addr = 0n;
  for (const b of value.subarray(0, addrLength)) addr = (addr << 8n) | BigInt(b);
  return { family: addrLength === 4 ? 4 : 6, addr, bits: value[addrLength]! };
}

/** The Details element (tag a0) of a v2 certificate, members in the order given. */
export function marshalDetailsV2(d: CertificateDetails): Uint8Array {
  const parts: Uint8Array[] = [derElement(TAG.name, utf8.encode(d.name))];
  const networks = (tag: number, list: readonly IpNetwork[]) => {
    if (list.length > 0) parts.push(derElement(tag, ...list.map((n) => derElement(TAG.octetString, networkBytes(n)))));
  };
  networks(TAG.networks, d.networks);
  networks(TAG.unsafeNetworks, d.unsafeNetworks);
  if (d.groups.length > 0) parts.push(derElement(TAG.groups, ...d.groups.map((g) => derElement(TAG.utf8String, utf8.encode(g)))));
  if (d.isCA) parts.push(derElement(TAG.isCA, Uint8Array.of(0xff)));
  for (const [tag, seconds] of [[TAG.notBefore, d.notBefore], [TAG.notAfter, d.notAfter]] as const) {
    if (!Number.isSafeInteger(seconds)) throw new CertificateError('notBefore and notAfter must be integer numbers of seconds');
    parts.push(derElement(tag, derInt64Content(BigInt(seconds))));
  }
  if (d.issuer !== '') {
    if (d.issuer.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(d.issuer)) throw new CertificateError(`failed to decode issuer: invalid hex "${d.issuer}"`);
    parts.push(derElement(TAG.issuer, Uint8Array.from(Buffer.from(d.issuer, 'hex'))));
  }
  return derElement(TAG.details, ...parts);
}

function readNetworks(details: DerReader, tag: number): (IpNetwork | null)[] {
  const container = details.readOptional(tag);
  if (!container) return [];
  const out: (IpNetwork | null)[] = [];
  const list = new DerReader(container.content);
  while (!list.empty) {
    const { content } = list.read(TAG.octetString);
    if (content.length === 0 || content.length > MAX_NETWORK_LENGTH) throw new DerError();
    out.push(networkFromBytes(content));
  }
  return out;
}

/** A 1-byte context-specific value (isCA, curve), as Nebula's readOptionalASN1Boolean/Byte. */
function readOptionalByte(reader: DerReader, tag: number): number | undefined {
  const el = reader.readOptional(tag);
  if (!el) return undefined;
  if (el.content.length !== 1) throw new DerError();
  return el.content[0]!;
}

interface ParsedDetails {
  details: Omit<CertificateDetails, 'publicKey' | 'curve'>;
  /** Networks whose bytes do not form a prefix (Nebula's invalid netip.Prefix), left for validation. */
  invalid: { unsafe: boolean; text: string }[];
}

function unmarshalDetailsV2(rawDetails: Uint8Array): ParsedDetails {
  const outer = new DerReader(rawDetails);
  const body = outer.read(TAG.details).content;
  if (body.length === 0) throw new DerError();
  const r = new DerReader(body);
  const name = r.read(TAG.name).content;
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) throw new DerError();
  const invalid: ParsedDetails['invalid'] = [];
  const keep = (list: (IpNetwork | null)[], unsafe: boolean): IpNetwork[] => {
    const out: IpNetwork[] = [];
    for (const n of list) {
      if (!n || n.bits > (n.family === 4 ? 32 : 128)) invalid.push({ unsafe, text: 'invalid Prefix' });
      else out.push(n);
    }
    return out;
  };
  const networks = keep(readNetworks(r, TAG.networks), false);
  const unsafeNetworks = keep(readNetworks(r, TAG.unsafeNetworks), true);
  const groups: string[] = [];
  const groupList = r.readOptional(TAG.groups);
  if (groupList) {
    const g = new DerReader(groupList.content);
    while (!g.empty) {
      const { content } = g.read(TAG.utf8String);
      if (content.length === 0) throw new DerError();
      groups.push(utf8Decoder.decode(content));
    }
  }
  const isCA = (readOptionalByte(r, TAG.isCA) ?? 0) > 0;
  const notBefore = Number(r.readInt64(TAG.notBefore));
  const notAfter = Number(r.readInt64(TAG.notAfter));
  const issuer = r.readOptional(TAG.issuer);
  // Members after the issuer are Nebula's extension point: ignored here, covered by the signature.
  return {
    details: {
      version: 2,
      name: utf8Decoder.decode(name),
      networks,
      unsafeNetworks,
      groups,
      notBefore,
      notAfter,
      isCA,
      issuer: issuer ? Buffer.from(issuer.content).toString('hex') : '',
    },
    invalid,
  };
}

export interface UnmarshalV2Options {
  /** The handshake form: the key comes from Noise, and the certificate must not carry one. */
  publicKey?: Uint8Array;
  /** The curve when the certificate has no curve element (Nebula: the receiver's own curve). */
  curve?: Curve;
}

/** Parses a v2 certificate (PEM body or handshake form) and runs Nebula's validate(). */
export function unmarshalCertificateV2(bytes: Uint8Array, options: UnmarshalV2Options = {}): Certificate {
  if (bytes.length === 0 || bytes.length > MAX_CERTIFICATE_SIZE) throw new CertificateError('bad wire format');
  let parsed: ParsedDetails;
  let rawDetails: Uint8Array;
  let curve: Curve;
  let publicKey: Uint8Array;
  let signature: Uint8Array;
  try {
    // Bytes after the outer SEQUENCE, and elements after the signature, are ignored as Nebula does.
    const cert = new DerReader(new DerReader(bytes).read(TAG.sequence).content);
    if (cert.empty) throw new DerError();
    rawDetails = cert.read(TAG.details).element;
    if (rawDetails.length <= 2) throw new DerError();
    const curveValue = readOptionalByte(cert, TAG.curve);
    curve = curveValue === undefined ? (options.curve ?? 'CURVE25519') : curveFromByte(curveValue);
    if (options.publicKey && options.publicKey.length > 0) {
      if (cert.peekTag() === TAG.publicKey) throw new CertificateError('certificate has unexpected pubkey present');
      publicKey = Uint8Array.from(options.publicKey);
    } else {
      publicKey = Uint8Array.from(cert.readOptional(TAG.publicKey)?.content ?? []);
    }
    if (publicKey.length === 0) throw new DerError();
    signature = Uint8Array.from(cert.read(TAG.signature).content);
    if (signature.length === 0) throw new DerError();
    parsed = unmarshalDetailsV2(rawDetails);
  } catch (err) {
    if (err instanceof DerError) throw new CertificateError('bad wire format');
    throw err;
  }
  const details: CertificateDetails = { ...parsed.details, publicKey, curve };
  validateV2(details, parsed.invalid);
  return { details, signature, rawDetails: Uint8Array.from(rawDetails) };
}

const addrBits = (n: IpNetwork) => (n.family === 4 ? 32 : 128);

/** Go's comparePrefix: address bit length (IPv4 first), then address, then prefix length. */
export function comparePrefix(a: IpNetwork, b: IpNetwork): number {
  const widths = addrBits(a) - addrBits(b);
  if (widths !== 0) return widths;
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  return a.bits - b.bits;
}

/** ::ffff:a.b.c.d (Go's Is4In6). */
function isIpv4Mapped(n: IpNetwork): boolean {
  return n.family === 6 && n.addr >> 32n === 0xffffn;
}

function sortUnique(list: IpNetwork[]): void {
  list.sort(comparePrefix);
  for (let i = 1; i < list.length; i++) {
    if (comparePrefix(list[i]!, list[i - 1]!) === 0) throw new CertificateError(`duplicate network detected: ${formatIpNetwork(list[i]!)}`);
  }
}

/**
 * Nebula's certificateV2.validate(), with its messages: sorts networks and unsafe networks in
 * place and refuses what a v2 certificate may not carry. Runs on parse and on sign.
 */
export function validateV2(d: CertificateDetails, invalid: readonly { unsafe: boolean; text: string }[] = []): void {
  if (d.publicKey.length === 0) throw new CertificateError('invalid public key');
  if (!d.isCA && d.networks.length + invalid.filter((i) => !i.unsafe).length === 0) {
    throw new CertificateError('non-CA certificate must contain at least 1 network');
  }
  const badNetwork = invalid.find((i) => !i.unsafe);
  if (badNetwork) throw new CertificateError(`invalid network: ${badNetwork.text}`);
  let hasV4 = false;
  let hasV6 = false;
  for (const n of d.networks) {
    if (n.addr === 0n) throw new CertificateError(`non-CA certificates must not use the zero address as a network: ${formatIpNetwork(n)}`);
    if (isIpv4Mapped(n)) throw new CertificateError(`4in6 networks are not allowed: ${formatIpNetwork(n)}`);
    hasV4 ||= n.family === 4;
    hasV6 ||= n.family === 6;
  }
  sortUnique(d.networks);
  const badUnsafe = invalid.find((i) => i.unsafe);
  if (badUnsafe) throw new CertificateError(`invalid unsafe network: ${badUnsafe.text}`);
  if (!d.isCA) {
    for (const n of d.unsafeNetworks) {
      if (n.family === 6 && !hasV6) throw new CertificateError(`IPv6 unsafe networks require an IPv6 address assignment: ${formatIpNetwork(n)}`);
      if (n.family === 4 && !hasV4) throw new CertificateError(`IPv4 unsafe networks require an IPv4 address assignment: ${formatIpNetwork(n)}`);
    }
  }
  sortUnique(d.unsafeNetworks);
}

/** The Details bytes the certificate was read or signed with. */
export function rawDetailsOf(cert: Certificate): Uint8Array {
  return cert.rawDetails ?? marshalDetailsV2(cert.details);
}

/** rawDetails ‖ curve byte ‖ public key: what the CA signs. */
export function signedBytesV2(details: CertificateDetails, rawDetails: Uint8Array): Uint8Array {
  return Buffer.concat([rawDetails, Uint8Array.of(curveByte(details.curve)), details.publicKey]);
}

/** Lowercase hex SHA-256 of rawDetails ‖ curve byte ‖ public key ‖ signature (not of the DER). */
export function fingerprintV2(cert: Certificate): string {
  return createHash('sha256').update(signedBytesV2(cert.details, rawDetailsOf(cert))).update(cert.signature).digest('hex');
}

/**
 * The DER of a v2 certificate: SEQUENCE { rawDetails, [1] curve unless CURVE25519, [2] key,
 * [3] signature }. The handshake form leaves out the curve and the key.
 */
export function marshalCertificateV2(cert: Certificate, options: { forHandshake?: boolean } = {}): Uint8Array {
  const parts = [rawDetailsOf(cert)];
  if (!options.forHandshake) {
    if (cert.details.curve !== 'CURVE25519') parts.push(derElement(TAG.curve, Uint8Array.of(curveByte(cert.details.curve))));
    parts.push(derElement(TAG.publicKey, cert.details.publicKey));
  }
  parts.push(derElement(TAG.signature, cert.signature));
  return derElement(TAG.sequence, ...parts);
}
