/**
 * What the enrollment service does with a request, free of HTTP: a join (token + public key →
 * certificate with the next free overlay IP and, if the token says so, a container subnet) and a
 * renewal (current certificate + proof of its private key → a fresh certificate with the same
 * name, IP, subnets and groups). Both run under the ledger's lock, so concurrent requests (and
 * `mesh ca sign`) never hand out an IP or a subnet twice, and a refused request changes nothing.
 * Every issued certificate is appended to `ca.issued.log` (JSON lines) with its fingerprint.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { cidrContains, formatCidr, formatIp, type Cidr } from '../src/net/ipv4.js';
import { formatIpNetwork, ipNetworkFromCidr, ipv4Cidrs } from '../src/net/ip.js';
import { describeFsError } from '../src/errors.js';
import { bytesToHex, certificateFingerprint, CertificateError, isExpired, type Certificate } from './cert.js';
import { CAPool } from './ca-pool.js';
import { signCertificate } from './sign.js';
import { checkToken, EnrollmentError, markUsed, nameFor, readTokens, writeTokens } from './enroll-token.js';
import { chooseAddress, chooseSubnet, recordAddress, recordSubnets, withLedger } from './subnet-ledger.js';

/** How far the clock of a renewing host may be off from the service's. */
const PROOF_WINDOW_MS = 5 * 60_000;

/** The CA's files and the service's allocation settings. */
export interface Issuer {
  caCert: Certificate;
  caKey: Uint8Array;
  ledgerPath: string;
  tokensPath: string;
  issuedLogPath: string;
  /** Overlay network host IPs are allocated from. */
  network: Cidr;
  /** IPs in use outside the ledger (the template's lighthouses). */
  reserved: number[];
  /** Groups for tokens that name none. */
  defaultGroups: string[];
  durationNs: bigint;
}

export interface JoinRequest {
  tokenId: string;
  secret: string;
  /** The name asked for (mesh join --name); null: the token's, else hostName. */
  name: string | null;
  hostName: string | null;
  publicKey: Uint8Array;
  /** The host asks for a container subnet (it runs Docker). */
  wantSubnet: boolean;
}

export function issuedLogPathFor(caKeyPath: string): string {
  return join(dirname(caKeyPath), `${basename(caKeyPath).replace(/\.key$/, '')}.issued.log`);
}

/** The issuer's duration, or undefined (until 1 s before the CA expires) when the CA ends sooner. */
function durationWithinCA(issuer: Issuer, now: Date): bigint | undefined {
  const caLeftNs = BigInt(issuer.caCert.details.notAfter * 1000 - 1000 - now.getTime()) * 1_000_000n;
  return issuer.durationNs < caLeftNs ? issuer.durationNs : undefined;
}

export function joinHost(issuer: Issuer, request: JoinRequest, now: Date): Certificate {
  if (request.publicKey.length !== 32) throw new EnrollmentError('the public key must be 32 bytes (X25519)', 400);
  return withLedger(issuer.ledgerPath, (state) => {
    const tokens = readTokens(issuer.tokensPath);
    const token = checkToken(tokens, request.tokenId, request.secret, now);
    const name = nameFor(token, request.name, request.hostName);
    // A name already in the ledger is someone's identity: only a token made for it, or the token
    // that handed it out, may enroll it again (keeping its IP and subnet).
    const held = state.addresses.find((e) => e.name === name) ?? state.subnets.find((e) => e.name === name);
    if (held && token.name !== name && !('token' in held && held.token === token.id)) {
      throw new EnrollmentError(`the name "${name}" is taken (recorded ${held.at}); to enroll that host again, use a token created with --name ${name}`);
    }
    if (request.wantSubnet && token.subnet === 'none') throw new EnrollmentError(`token ${token.id} does not hand out container subnets (create it with --subnet auto)`);
    const ip = chooseAddress(issuer.network, state, name, issuer.reserved);
    const subnets = token.subnet === 'auto' ? [chooseSubnet(ipv4Cidrs(issuer.caCert.details.unsafeNetworks), state.subnets, name)] : [];
    const groups = token.groups.length > 0 ? token.groups : issuer.defaultGroups;
    const cert = signCertificate({ caCert: issuer.caCert, caKey: issuer.caKey, name, networks: [ipNetworkFromCidr(ip)], unsafeNetworks: subnets.map(ipNetworkFromCidr), groups, publicKey: request.publicKey, durationNs: durationWithinCA(issuer, now), now });
    // The use is counted before the certificate leaves: a failed write refuses the join.
    writeTokens(issuer.tokensPath, markUsed(tokens, token.id));
    logIssued(issuer.issuedLogPath, cert, `token ${token.id}`, now);
    const recordedSubnets = subnets.length > 0 ? recordSubnets(state.subnets, name, subnets, now) : state.subnets;
    return { state: { subnets: recordedSubnets, addresses: recordAddress(state.addresses, name, ip.ip, now, token.id) }, result: cert };
  });
}

/** The message a renewing host authenticates: its certificate and the time, bound to this purpose. */
function proofMessage(fingerprint: string, timestamp: number): string {
  return `mesh-renew-v1\n${fingerprint}\n${timestamp}`;
}

/**
 * A host proves it holds its certificate's private key with an HMAC keyed by the X25519 shared
 * secret of its key and the service's (host keys are X25519 and cannot sign).
 */
export function renewalProof(hostPrivateKey: Uint8Array, servicePublicKey: Uint8Array, cert: Certificate, timestamp: number): string {
  const shared = x25519.getSharedSecret(hostPrivateKey, servicePublicKey);
  return createHmac('sha256', shared).update(proofMessage(certificateFingerprint(cert), timestamp)).digest('hex');
}

export interface RenewRequest {
  cert: Certificate;
  timestamp: number;
  proof: string;
}

export function renewHost(issuer: Issuer, servicePrivateKey: Uint8Array, request: RenewRequest, now: Date): Certificate {
  const { cert } = request;
  try {
    CAPool.fromCertificates([issuer.caCert]).verify(cert, now, new Set());
  } catch (err) {
    const reason = isExpired(cert, now) ? 'it has expired; join again with a new token' : (err as Error).message;
    throw new EnrollmentError(`cannot renew "${cert.details.name}": ${reason}`);
  }
  if (Math.abs(now.getTime() - request.timestamp) > PROOF_WINDOW_MS) throw new EnrollmentError('the renewal request is stale or its clock is off by more than 5 minutes', 400);
  const shared = x25519.getSharedSecret(servicePrivateKey, cert.details.publicKey);
  const expected = Buffer.from(createHmac('sha256', shared).update(proofMessage(certificateFingerprint(cert), request.timestamp)).digest('hex'), 'hex');
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(request.proof) ? request.proof : '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new EnrollmentError('the renewal proof does not match the certificate\'s key');
  const { name, networks, unsafeNetworks, groups } = cert.details;
  const ips = ipv4Cidrs(networks);
  const subnets = ipv4Cidrs(unsafeNetworks);
  return withLedger(issuer.ledgerPath, (state) => {
    // The ledger decides: a host renews only the addresses it still holds.
    const held = state.addresses.find((e) => e.name === name);
    if (!held || !ips[0] || held.ip !== formatIp(ips[0].ip)) throw new EnrollmentError(`cannot renew "${name}": the ledger no longer gives it ${ips[0] ? formatIp(ips[0].ip) : 'an address'}`);
    for (const s of subnets) {
      if (!state.subnets.some((e) => e.name === name && e.subnet === formatCidr(s))) throw new EnrollmentError(`cannot renew "${name}": the ledger no longer gives it ${formatCidr(s)}`);
    }
    if (!cidrContains(issuer.network, ips[0]!.ip)) throw new EnrollmentError(`cannot renew "${name}": ${formatIp(ips[0]!.ip)} is outside ${formatCidr(issuer.network)}`);
    const renewed = signCertificate({ caCert: issuer.caCert, caKey: issuer.caKey, name, networks, unsafeNetworks, groups, publicKey: cert.details.publicKey, durationNs: durationWithinCA(issuer, now), now });
    logIssued(issuer.issuedLogPath, renewed, `renewal of ${certificateFingerprint(cert)}`, now);
    return { state, result: renewed };
  });
}

function logIssued(path: string, cert: Certificate, via: string, now: Date): void {
  const d = cert.details;
  const line = {
    at: now.toISOString(),
    name: d.name,
    fingerprint: certificateFingerprint(cert),
    ips: d.networks.map(formatIpNetwork),
    subnets: d.unsafeNetworks.map(formatIpNetwork),
    groups: d.groups,
    notAfter: new Date(d.notAfter * 1000).toISOString(),
    publicKey: bytesToHex(d.publicKey),
    via,
  };
  try {
    appendFileSync(path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  } catch (err) {
    throw new CertificateError(`${path}: cannot log the issued certificate: ${describeFsError(err)}`);
  }
}
