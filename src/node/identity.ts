import { timingSafeEqual } from 'node:crypto';
import type { CAPool } from '../../pki/ca-pool.js';
import { certificateFingerprint, marshalCertificateForHandshake, unmarshalHandshakeCertificate, type Certificate, type CertificateVersion } from '../../pki/cert.js';
import { loadCAPool, loadCertificates, loadX25519PrivateKey } from '../../pki/keys.js';
import { UserError } from '../errors.js';
import { formatIpNetwork, type IpNetwork, ipNetworkContains, type IpPrefix, ipv4Cidrs, type VpnAddr, vpnAddrOf, vpnAddrToIpNumber } from '../net/ip.js';
import { cidrContains, type Cidr } from '../net/ipv4.js';
import type { AddrForm } from '../protocol/messages.js';
import { x25519PublicKey, type KeyPair } from '../protocol/noise.js';
import type { NodeConfig } from './config.js';
import { localCidrsFromCert, type PeerIdentity, peerRemoteCidrs } from './firewall.js';

/** A peer certificate checked against our CA pool and its handshake key. */
export interface VerifiedPeer {
  cert: Certificate;
  identity: PeerIdentity;
}

/** One of this node's certificates, ready for handshakes. */
export interface HeldCertificate {
  readonly cert: Certificate;
  readonly version: CertificateVersion;
  /** As sent in handshakes: without the public key (v2: and the curve), which the peer takes from Noise. */
  readonly handshakeBytes: Uint8Array;
}

/**
 * What this node is: its certificates (a v1 one, a v2 one, or both, as Nebula 1.10+ holds them)
 * and key, the CAs it trusts and the fingerprints it refuses. Rebuilt as a whole on SIGHUP so a
 * reload either applies completely or not at all.
 */
export class LocalIdentity {
  /** Our first IPv4 overlay address (mesh needs one on every node). */
  readonly vpnIp: number;
  /** Every overlay address of our certificate, vpnIp first. */
  readonly vpnAddrs: readonly VpnAddr[];
  /** Our certificate's networks (addresses with their prefix lengths), IPv4 and IPv6. */
  readonly vpnNetworks: readonly IpNetwork[];
  /** Our IPv6 overlay addresses. */
  readonly vpnAddrs6: ReadonlySet<bigint>;
  /** The overlay network: the first network of the certificates with its mask. */
  readonly vpnNetwork: Cidr;
  /** The certificate handshakes start with (pki.initiating_version); status and renewal show this one. */
  readonly cert: Certificate;
  readonly initiatingVersion: CertificateVersion;
  readonly blocklist: ReadonlySet<string>;
  private readonly held: ReadonlyMap<CertificateVersion, HeldCertificate>;

  /** Throws UserError naming pki.cert or pki.initiating_version when the certificates do not fit together. */
  constructor(
    certs: readonly Certificate[],
    readonly keyPair: KeyPair,
    readonly caPool: CAPool,
    blocklist: readonly string[],
    initiatingVersion: CertificateVersion | null = null,
  ) {
    const held = new Map<CertificateVersion, HeldCertificate>();
    for (const cert of certs) {
      const version = cert.details.version;
      if (held.has(version)) throw new UserError(`pki.cert: holds more than one version ${version} certificate`);
      if (cert.details.curve !== 'CURVE25519') throw new UserError(unsupportedCurve(cert));
      if (cert.details.isCA) throw new UserError('pki.cert: is a CA certificate, not a host certificate');
      held.set(version, { cert, version, handshakeBytes: marshalCertificateForHandshake(cert) });
    }
    const all = [...held.values()];
    const first = all[0];
    if (!first) throw new UserError('pki.cert: holds no certificate');
    for (const other of all.slice(1)) mustMatch(first.cert, other.cert);
    const version = initiatingVersion ?? (held.has(1) ? 1 : 2);
    const initiating = held.get(version);
    if (!initiating) throw new UserError(`pki.initiating_version: is ${version} but pki.cert holds no version ${version} certificate`);
    const network = ipv4Cidrs(first.cert.details.networks)[0];
    if (!network) throw new UserError('pki.cert: certificate has no IPv4 network');
    this.held = held;
    this.cert = initiating.cert;
    this.initiatingVersion = version;
    this.vpnIp = network.ip;
    this.vpnNetwork = network;
    this.vpnNetworks = this.networksCert.details.networks;
    this.vpnAddrs = [network.ip, ...this.vpnNetworks.map(vpnAddrOf).filter((a) => a !== network.ip)];
    this.vpnAddrs6 = new Set(this.vpnAddrs.filter((a): a is bigint => typeof a === 'bigint'));
    this.blocklist = new Set(blocklist.map((f) => f.toLowerCase()));
  }

  static fromConfig(pki: NodeConfig['pki'], now = new Date()): LocalIdentity {
    const caPool = wrap('pki.ca', () => loadCAPool(pki.ca));
    const certs = wrap('pki.cert', () => loadCertificates(pki.cert));
    // Before the key: a P-256 key would otherwise be refused with a less telling message.
    for (const cert of certs) if (cert.details.curve !== 'CURVE25519') throw new UserError(unsupportedCurve(cert));
    const privateKey = wrap('pki.key', () => loadX25519PrivateKey(pki.key));
    const publicKey = x25519PublicKey(privateKey);
    const t = Math.floor(now.getTime() / 1000);
    for (const cert of certs) {
      const { version, publicKey: certKey, notBefore, notAfter } = cert.details;
      if (certKey.length !== publicKey.length || !timingSafeEqual(certKey, publicKey)) {
        throw new UserError(`pki.key: the private key does not match the public key in the version ${version} certificate of pki.cert`);
      }
      if (t < notBefore || t > notAfter) {
        throw new UserError(`pki.cert: the version ${version} certificate is expired or not yet valid (valid ${iso(notBefore)} to ${iso(notAfter)})`);
      }
    }
    return new LocalIdentity(certs, { privateKey, publicKey }, caPool, pki.blocklist, pki.initiatingVersion ?? null);
  }

  /** Every certificate this node holds, lowest version first. */
  certificates(): HeldCertificate[] {
    return [...this.held.values()].sort((a, b) => a.version - b.version);
  }

  /**
   * The certificate to send: ours in the peer's version when we hold one (a responder answers in
   * the initiator's version), else the one handshakes start with, as Nebula does.
   */
  handshakeCertificate(peerVersion: number = this.initiatingVersion): HeldCertificate {
    return this.held.get(peerVersion as CertificateVersion) ?? this.held.get(this.initiatingVersion)!;
  }

  /** The certificate whose networks are ours: v2 when held (it may carry more), else v1, as Nebula. */
  private get networksCert(): Certificate {
    return (this.held.get(2) ?? this.held.get(1)!).cert;
  }

  /** Addresses this node may receive for: its cert addresses (as host prefixes) and unsafe networks. */
  localCidrs(): IpPrefix[] {
    const d = this.networksCert.details;
    return localCidrsFromCert(d.networks, d.unsafeNetworks);
  }

  inVpnNetwork(ip: number): boolean {
    return cidrContains(this.vpnNetwork, ip);
  }

  /** Whether `a` lies in any of our certificate's networks (the overlay reaches it directly). */
  inVpnNetworks(a: VpnAddr): boolean {
    if (typeof a === 'number' && cidrContains(this.vpnNetwork, a)) return true;
    if (this.vpnNetworks.length === 1 && typeof a === 'number') return false;
    const ip = vpnAddrToIpNumber(a);
    return this.vpnNetworks.some((n) => ipNetworkContains(n, ip));
  }

  /**
   * Validates a peer's handshake certificate of `version` (the payload's CertVersion; absent or 0
   * is v1): rebuilds it with the Noise static key as its public key (so the CA signature only
   * verifies when the peer really owns the certified key), then checks it against the CA pool
   * and blocklist. Throws with the reason.
   */
  verifyPeer(certBytes: Uint8Array, version: number | undefined, remoteStatic: Uint8Array, now = new Date()): VerifiedPeer {
    return this.checkPeer(this.readPeer(certBytes, version, remoteStatic), now);
  }

  /**
   * A handshake's certificate bound to the sender's static key, parsed but not checked: what it
   * claims (no signature check yet, so cheap). checkPeer() decides whether to believe it.
   */
  readPeer(certBytes: Uint8Array, version: number | undefined, remoteStatic: Uint8Array): Certificate {
    // Our curve is always Curve25519 (the constructor refuses others): a P-256 peer fails here.
    try {
      return unmarshalHandshakeCertificate(version ?? 1, certBytes, remoteStatic, this.cert.details.curve);
    } catch (err) {
      if (err instanceof Error && /^certificate curve P256 /.test(err.message)) throw new Error(`${err.message}: P-256 certificates are not supported by mesh`);
      throw err;
    }
  }

  /** Checks a certificate from readPeer against the CA pool (the signature), the blocklist and our needs. */
  checkPeer(bound: Certificate, now = new Date()): VerifiedPeer {
    this.caPool.verify(bound, now, this.blocklist);
    if (ipv4Cidrs(bound.details.networks).length === 0) throw new Error('certificate has no IPv4 network');
    return { cert: bound, identity: this.peerIdentity(bound) };
  }

  peerIdentity(cert: Certificate): PeerIdentity {
    const d = cert.details;
    const ca = this.caPool.get(d.issuer);
    const vpnAddrs = d.networks.map(vpnAddrOf);
    return {
      name: d.name,
      groups: d.groups,
      vpnIp: vpnAddrs[0]!,
      vpnAddrs,
      remoteCidrs: peerRemoteCidrs(d.networks, d.unsafeNetworks),
      caName: ca?.details.name ?? '',
      caSha: d.issuer,
    };
  }

  /** The address fields of lighthouse and relay messages on tunnels made with our certificate. */
  get addrForm(): AddrForm {
    return this.cert.details.version === 2 ? 'v2' : 'v1';
  }

  get fingerprint(): string {
    return certificateFingerprint(this.cert);
  }

  /** The same identity refusing `blocklist` (pki.blocklist merged with the revocation lists). */
  withBlocklist(blocklist: readonly string[]): LocalIdentity {
    return new LocalIdentity(this.certificates().map((h) => h.cert), this.keyPair, this.caPool, blocklist, this.initiatingVersion);
  }
}

function unsupportedCurve(cert: Certificate): string {
  return `pki.cert: the version ${cert.details.version} certificate uses ${cert.details.curve}; P-256 certificates are not supported by mesh (its handshakes use Curve25519)`;
}

/** Nebula's rule for a v1 and a v2 certificate held together: one key, one curve, one first network. */
function mustMatch(a: Certificate, b: Certificate): void {
  const what = `the version ${a.details.version} and version ${b.details.version} certificates`;
  const ka = a.details.publicKey;
  const kb = b.details.publicKey;
  if (ka.length !== kb.length || !timingSafeEqual(ka, kb)) throw new UserError(`pki.cert: ${what} have different public keys`);
  if (a.details.curve !== b.details.curve) throw new UserError(`pki.cert: ${what} have different curves`);
  const na = a.details.networks[0];
  const nb = b.details.networks[0];
  if (!na || !nb || !sameNetwork(na, nb)) {
    throw new UserError(`pki.cert: ${what} must have the same first network (${na ? formatIpNetwork(na) : 'none'} and ${nb ? formatIpNetwork(nb) : 'none'})`);
  }
}

function sameNetwork(a: IpNetwork, b: IpNetwork): boolean {
  return a.family === b.family && a.addr === b.addr && a.bits === b.bits;
}

function iso(unix: number): string {
  return new Date(unix * 1000).toISOString();
}

function wrap<T>(key: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${key}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
