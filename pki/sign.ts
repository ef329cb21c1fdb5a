/**
 * Creating CAs and signing host certificates, with the rules of nebula-cert 1.6 `ca` and `sign`.
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
} from './cert.js';
import { NANOS_PER_SECOND } from './duration.js';
import { ed25519PublicFromPrivate, generateEd25519KeyPair } from './keys.js';

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

/** Trims group names and drops empty ones, as nebula-cert does with -groups. */
export function normalizeGroups(groups: readonly string[]): string[] {
  return groups.map((g) => g.trim()).filter((g) => g !== '');
}

export interface CreateCAOptions {
  name: string;
  /** Validity in nanoseconds; default 8760h. Must be > 0. */
  durationNs?: bigint;
  /** Groups that certificates signed by this CA may carry (empty: any). */
  groups?: readonly string[];
  /** Networks certificate networks must lie in (empty: any). Kept as written, like nebula-cert. */
  networks?: readonly IpNetwork[];
  /** Networks certificate unsafe networks must lie in (empty: any). Stored as network addresses. */
  unsafeNetworks?: readonly IpNetwork[];
  now?: Date;
  /** A 64-byte Ed25519 private key to use instead of a new one. */
  privateKey?: Uint8Array;
}

export interface CreatedCA {
  cert: Certificate;
  /** 64-byte Ed25519 private key (seed || public). */
  privateKey: Uint8Array;
}

/** Creates a self-signed CA certificate (nebula-cert ca). */
export function createCA(options: CreateCAOptions): CreatedCA {
  const durationNs = options.durationNs ?? DEFAULT_CA_DURATION_NS;
  if (durationNs <= 0n) throw new CertificateError('duration must be greater than 0');
  if (options.name === '') throw new CertificateError('name is required');
  const now = options.now ?? new Date();
  let privateKey: Uint8Array;
  let publicKey: Uint8Array;
  if (options.privateKey) {
    privateKey = Uint8Array.from(options.privateKey);
    publicKey = ed25519PublicFromPrivate(privateKey);
  } else {
    ({ privateKey, publicKey } = generateEd25519KeyPair());
  }
  const details: CertificateDetails = {
    version: 1,
    name: options.name,
    networks: (options.networks ?? []).map((n) => ({ ...n })),
    unsafeNetworks: (options.unsafeNetworks ?? []).map(maskedNetwork),
    groups: normalizeGroups(options.groups ?? []),
    notBefore: unixSeconds(now),
    notAfter: addDuration(now, durationNs),
    publicKey,
    curve: 'CURVE25519',
    isCA: true,
    issuer: '',
  };
  return { cert: signDetails(details, privateKey), privateKey };
}

export interface SignOptions {
  /** The signing CA certificate and its 64-byte Ed25519 private key. */
  caCert: Certificate;
  caKey: Uint8Array;
  name: string;
  /** The host's VPN address(es) with the network's prefix length (host address kept, e.g. 10.42.0.5/24). */
  networks: readonly IpNetwork[];
  /** Unsafe-route networks this host may serve; stored as network addresses. */
  unsafeNetworks?: readonly IpNetwork[];
  groups?: readonly string[];
  /** The host's X25519 public key. */
  publicKey: Uint8Array;
  /** Validity in nanoseconds; undefined or 0: until one second before the CA expires. */
  durationNs?: bigint;
  now?: Date;
}

/**
 * Signs a host certificate (nebula-cert sign). Refuses with a CertificateError when the CA cert
 * is not a CA, is expired, does not match the key, or when the result would violate the CA's
 * constraints (validity, IPs, subnets, groups).
 */
export function signCertificate(options: SignOptions): Certificate {
  const { caCert, caKey } = options;
  const now = options.now ?? new Date();
  if (!caCert.details.isCA) throw new CertificateError('refusing to sign, the signing certificate is not a CA');
  let caPublic: Uint8Array;
  try {
    caPublic = ed25519PublicFromPrivate(caKey);
  } catch (err) {
    throw new CertificateError(`invalid CA key: ${(err as Error).message}`);
  }
  if (bytesToHex(caPublic) !== bytesToHex(caCert.details.publicKey)) {
    throw new CertificateError('refusing to sign, root certificate does not match private key');
  }
  if (isExpired(caCert, now)) throw new CertificateError('ca certificate is expired');
  if (options.name === '') throw new CertificateError('name is required');
  if (options.networks.length === 0) throw new CertificateError('at least one ip is required');
  if (options.publicKey.length !== PUBLIC_KEY_LENGTH) {
    throw new CertificateError(`public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${options.publicKey.length}`);
  }
  for (const n of [...options.networks, ...(options.unsafeNetworks ?? [])]) {
    if (!Number.isInteger(n.bits) || n.bits < 0 || n.bits > (n.family === 4 ? 32 : 128)) throw new CertificateError(`invalid prefix length in ${formatIpNetwork(n)}`);
  }

  let notAfter: number;
  if (options.durationNs === undefined || options.durationNs === 0n) {
    notAfter = caCert.details.notAfter - 1;
  } else if (options.durationNs < 0n) {
    throw new CertificateError('duration must be greater than 0');
  } else {
    notAfter = addDuration(now, options.durationNs);
  }

  const details: CertificateDetails = {
    version: 1,
    name: options.name,
    networks: options.networks.map((n) => ({ ...n })),
    unsafeNetworks: (options.unsafeNetworks ?? []).map(maskedNetwork),
    groups: normalizeGroups(options.groups ?? []),
    notBefore: unixSeconds(now),
    notAfter,
    publicKey: Uint8Array.from(options.publicKey),
    curve: 'CURVE25519',
    isCA: false,
    issuer: certificateFingerprint(caCert),
  };
  const violation = caConstraintViolation(details, caCert.details);
  if (violation) throw new CertificateError(`refusing to sign, root certificate constraints violated: ${violation}`);
  return signDetails(details, caKey);
}
