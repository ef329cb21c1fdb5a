/**
 * Creating CAs and signing host certificates, with the rules of nebula-cert `ca` and `sign`: 1.6's
 * for v1 certificates, 1.10's for v2 (several networks of both families, P256).
 */
import { formatIpNetwork, type IpNetwork } from '../src/net/ip.js';
import {
  bytesToHex,
  caConstraintViolation,
  certificateFingerprint,
  CertificateError,
  isExpired,
  PUBLIC_KEY_LENGTH,
  signDetails,
  type Certificate,
  type CertificateDetails,
  type CertificateVersion,
  type Curve,
} from './cert.js';
import { MAX_NAME_LENGTH } from './cert-v2.js';
import { NANOS_PER_SECOND } from './duration.js';
import { generateSigningKeyPair, signingPublicFromPrivate } from './keys.js';
import { P256_PUBLIC_KEY_LENGTH } from './p256.js';

/** nebula-cert ca's default -duration: 8760h (one year). */
export const DEFAULT_CA_DURATION_NS = 8760n * 3600n * NANOS_PER_SECOND;

/** Unix seconds of `now + durationNs`, truncated as Go's time.Time.Unix() does. */
function addDuration(now: Date, durationNs: bigint): number {
  const ns = BigInt(now.getTime()) * 1_000_000n + durationNs;
  let seconds = ns / NANOS_PER_SECOND;
  if (ns < 0n && ns % NANOS_PER_SECOND !== 0n) seconds -= 1n; // floor for times before 1970
  return Number(seconds);
}

/** The network address of the prefix (nebula-cert 1.6 stores subnets that way). */
function maskedNetwork(n: IpNetwork): IpNetwork {
  const width = n.family === 4 ? 32 : 128;
  const hostBits = BigInt(width - n.bits);
  return { family: n.family, addr: (n.addr >> hostBits) << hostBits, bits: n.bits };
}

function unixSeconds(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

/** What a v1 certificate cannot carry, and the name bounds of Nebula's v2 parser. */
function checkVersionLimits(version: CertificateVersion, curve: Curve, name: string, networks: readonly IpNetwork[], unsafeNetworks: readonly IpNetwork[]): void {
  if (version === 1) {
    if (curve !== 'CURVE25519') throw new CertificateError('P256 needs a v2 certificate (mesh writes v1 certificates with CURVE25519 only)');
    const v6 = [...networks, ...unsafeNetworks].find((n) => n.family !== 4);
    if (v6) throw new CertificateError(`v1 certificates can only contain ipv4 addresses, have ${formatIpNetwork(v6)}`);
  } else if (Buffer.byteLength(name) > MAX_NAME_LENGTH) {
    throw new CertificateError(`name must be at most ${MAX_NAME_LENGTH} bytes in a v2 certificate (Nebula refuses longer ones)`);
  }
  for (const n of [...networks, ...unsafeNetworks]) {
    if (!Number.isInteger(n.bits) || n.bits < 0 || n.bits > (n.family === 4 ? 32 : 128)) throw new CertificateError(`invalid prefix length in ${formatIpNetwork(n)}`);
  }
}

/** Trims group names and drops empty ones, as nebula-cert does with -groups. */
export function normalizeGroups(groups: readonly string[]): string[] {
  return groups.map((g) => g.trim()).filter((g) => g !== '');
}

export interface CreateCAOptions {
  name: string;
  /** Certificate format; default 1. */
  version?: CertificateVersion;
  /** Key curve; default CURVE25519 (Ed25519). P256 (ECDSA) needs version 2. */
  curve?: Curve;
  /** Validity in nanoseconds; default 8760h. Must be > 0. */
  durationNs?: bigint;
  /** Groups that certificates signed by this CA may carry (empty: any). */
  groups?: readonly string[];
  /** Networks certificate networks must lie in (empty: any). Kept as written, like nebula-cert. */
  networks?: readonly IpNetwork[];
  /** Networks certificate unsafe networks must lie in (empty: any). v1 stores network addresses, v2 keeps them as written. */
  unsafeNetworks?: readonly IpNetwork[];
  now?: Date;
  /** A private key of the curve to use instead of a new one. */
  privateKey?: Uint8Array;
}

export interface CreatedCA {
  cert: Certificate;
  /** Ed25519: 64 bytes (seed || public); P256: the 32-byte scalar. */
  privateKey: Uint8Array;
}

/** Creates a self-signed CA certificate (nebula-cert ca). */
export function createCA(options: CreateCAOptions): CreatedCA {
  const durationNs = options.durationNs ?? DEFAULT_CA_DURATION_NS;
  if (durationNs <= 0n) throw new CertificateError('duration must be greater than 0');
  if (options.name === '') throw new CertificateError('name is required');
  const version = options.version ?? 1;
  const curve = options.curve ?? 'CURVE25519';
  checkVersionLimits(version, curve, options.name, options.networks ?? [], options.unsafeNetworks ?? []);
  const now = options.now ?? new Date();
  let privateKey: Uint8Array;
  let publicKey: Uint8Array;
  if (options.privateKey) {
    privateKey = Uint8Array.from(options.privateKey);
    publicKey = signingPublicFromPrivate(curve, privateKey);
  } else {
    ({ privateKey, publicKey } = generateSigningKeyPair(curve));
  }
  const details: CertificateDetails = {
    version,
    name: options.name,
    networks: (options.networks ?? []).map((n) => ({ ...n })),
    unsafeNetworks: (options.unsafeNetworks ?? []).map((n) => (version === 1 ? maskedNetwork(n) : { ...n })),
    groups: normalizeGroups(options.groups ?? []),
    notBefore: unixSeconds(now),
    notAfter: addDuration(now, durationNs),
    publicKey,
    curve,
    isCA: true,
    issuer: '',
  };
  return { cert: signDetails(details, privateKey), privateKey };
}

export interface SignOptions {
  /** The signing CA certificate and its private key (Ed25519: 64 bytes; P256: the 32-byte scalar). */
  caCert: Certificate;
  caKey: Uint8Array;
  /** Certificate format; default: the CA's (as nebula-cert 1.10). */
  version?: CertificateVersion;
  name: string;
  /** The host's VPN address(es) with the network's prefix length (host address kept, e.g. 10.42.0.5/24). */
  networks: readonly IpNetwork[];
  /** Unsafe-route networks this host may serve; v1 stores network addresses, v2 keeps them as written. */
  unsafeNetworks?: readonly IpNetwork[];
  groups?: readonly string[];
  /** The host's public key on the CA's curve: X25519 (32 bytes) or P256 (65). */
  publicKey: Uint8Array;
  /** Validity in nanoseconds; undefined or 0: until one second before the CA expires. */
  durationNs?: bigint;
  now?: Date;
}

/**
 * Signs a host certificate (nebula-cert sign). Refuses with a CertificateError when the CA cert
 * is not a CA, is expired, does not match the key, when the result would violate the CA's
 * constraints (validity, networks, unsafe networks, groups) or, for v2, Nebula's validate().
 */
export function signCertificate(options: SignOptions): Certificate {
  const { caCert, caKey } = options;
  const now = options.now ?? new Date();
  if (!caCert.details.isCA) throw new CertificateError('refusing to sign, the signing certificate is not a CA');
  const curve = caCert.details.curve;
  const version = options.version ?? caCert.details.version;
  let caPublic: Uint8Array;
  try {
    caPublic = signingPublicFromPrivate(curve, caKey);
  } catch (err) {
    throw new CertificateError(`invalid CA key: ${(err as Error).message}`);
  }
  if (bytesToHex(caPublic) !== bytesToHex(caCert.details.publicKey)) {
    throw new CertificateError('refusing to sign, root certificate does not match private key');
  }
  if (isExpired(caCert, now)) throw new CertificateError('ca certificate is expired');
  if (options.name === '') throw new CertificateError('name is required');
  if (options.networks.length === 0) throw new CertificateError('at least one ip is required');
  const keyLength = curve === 'P256' ? P256_PUBLIC_KEY_LENGTH : PUBLIC_KEY_LENGTH;
  if (options.publicKey.length !== keyLength) {
    throw new CertificateError(`public key must be ${keyLength} bytes, got ${options.publicKey.length}`);
  }
  checkVersionLimits(version, curve, options.name, options.networks, options.unsafeNetworks ?? []);

  let notAfter: number;
  if (options.durationNs === undefined || options.durationNs === 0n) {
    notAfter = caCert.details.notAfter - 1;
  } else if (options.durationNs < 0n) {
    throw new CertificateError('duration must be greater than 0');
  } else {
    notAfter = addDuration(now, options.durationNs);
  }

  const details: CertificateDetails = {
    version,
    name: options.name,
    networks: options.networks.map((n) => ({ ...n })),
    unsafeNetworks: (options.unsafeNetworks ?? []).map((n) => (version === 1 ? maskedNetwork(n) : { ...n })),
    groups: normalizeGroups(options.groups ?? []),
    notBefore: unixSeconds(now),
    notAfter,
    publicKey: Uint8Array.from(options.publicKey),
    curve,
    isCA: false,
    issuer: certificateFingerprint(caCert),
  };
  const violation = caConstraintViolation(details, caCert.details);
  if (violation) throw new CertificateError(`refusing to sign, root certificate constraints violated: ${violation}`);
  return signDetails(details, caKey);
}
