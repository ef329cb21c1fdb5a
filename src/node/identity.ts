import { timingSafeEqual } from 'node:crypto';
import type { CAPool } from '../../pki/ca-pool.js';
import { certificateFingerprint, marshalCertificate, unmarshalCertificate, type Certificate } from '../../pki/cert.js';
import { loadCAPool, loadCertificate, loadX25519PrivateKey } from '../../pki/keys.js';
import { UserError } from '../errors.js';
import { cidrContains, type Cidr } from '../net/ipv4.js';
import { type IpNetwork, ipNetworkContains, type IpPrefix, ipv4Cidrs, type VpnAddr, vpnAddrOf, vpnAddrToIpNumber } from '../net/ip.js';
import type { AddrForm } from '../protocol/messages.js';
import { x25519PublicKey, type KeyPair } from '../protocol/noise.js';
import type { NodeConfig } from './config.js';
import { localCidrsFromCert, type PeerIdentity, peerRemoteCidrs } from './firewall.js';

/**
 * What this node is: its certificate and key, the CAs it trusts and the fingerprints it refuses.
 * Rebuilt as a whole on SIGHUP so a reload either applies completely or not at all.
 */
/** A peer certificate checked against our CA pool and its handshake key. */
export interface VerifiedPeer {
  cert: Certificate;
  identity: PeerIdentity;
}

export class LocalIdentity {
  /** Our first IPv4 overlay address (mesh needs one on every node). */
  readonly vpnIp: number;
  /** Every overlay address of our certificate, vpnIp first. */
  readonly vpnAddrs: readonly VpnAddr[];
  /** Our certificate's networks (addresses with their prefix lengths), IPv4 and IPv6. */
  readonly vpnNetworks: readonly IpNetwork[];
  /** Our IPv6 overlay addresses. */
  readonly vpnAddrs6: ReadonlySet<bigint>;
  /** The overlay network: Ips[0] with its mask. */
  readonly vpnNetwork: Cidr;
  /** Our certificate as sent in handshakes: without the public key, which the peer takes from Noise. */
  readonly handshakeCert: Uint8Array;
  readonly blocklist: ReadonlySet<string>;

  constructor(
    readonly cert: Certificate,
    readonly keyPair: KeyPair,
    readonly caPool: CAPool,
    blocklist: readonly string[],
  ) {
    const first = ipv4Cidrs(cert.details.networks)[0];
    if (!first) throw new UserError('pki.cert: certificate has no IP address');
    this.vpnIp = first.ip;
    this.vpnAddrs = [first.ip, ...cert.details.networks.map(vpnAddrOf).filter((a) => a !== first.ip)];
    this.vpnNetworks = cert.details.networks;
    this.vpnAddrs6 = new Set(this.vpnAddrs.filter((a): a is bigint => typeof a === 'bigint'));
    this.vpnNetwork = first;
    this.handshakeCert = marshalCertificate(cert, { omitPublicKey: true });
    this.blocklist = new Set(blocklist.map((f) => f.toLowerCase()));
  }

  static fromConfig(pki: NodeConfig['pki'], now = new Date()): LocalIdentity {
    const caPool = wrap('pki.ca', () => loadCAPool(pki.ca));
    const cert = wrap('pki.cert', () => loadCertificate(pki.cert));
    const privateKey = wrap('pki.key', () => loadX25519PrivateKey(pki.key));
    const publicKey = x25519PublicKey(privateKey);
    const certKey = cert.details.publicKey;
    if (certKey.length !== publicKey.length || !timingSafeEqual(certKey, publicKey)) {
      throw new UserError('pki.key: the private key does not match the public key in pki.cert');
    }
    if (ipv4Cidrs(cert.details.networks).length === 0) throw new UserError('pki.cert: certificate has no IP address');
    const t = Math.floor(now.getTime() / 1000);
    if (t < cert.details.notBefore || t > cert.details.notAfter) {
      throw new UserError(`pki.cert: certificate is expired or not yet valid (valid ${iso(cert.details.notBefore)} to ${iso(cert.details.notAfter)})`);
    }
    return new LocalIdentity(cert, { privateKey, publicKey }, caPool, pki.blocklist);
  }

  /** Addresses this node may receive for: its cert addresses (as host prefixes) and unsafe networks. */
  localCidrs(): IpPrefix[] {
    return localCidrsFromCert(this.cert.details.networks, this.cert.details.unsafeNetworks);
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
   * Validates a peer's handshake certificate: inserts the Noise static key as the public key (so
   * the CA signature only verifies when the peer really owns the certified key), then checks it
   * against the CA pool and blocklist. Throws with the reason.
   */
  verifyPeer(certBytes: Uint8Array, remoteStatic: Uint8Array, now = new Date()): VerifiedPeer {
    const bound = unmarshalCertificate(certBytes, { publicKey: remoteStatic });
    this.caPool.verify(bound, now, this.blocklist);
    if (bound.details.networks.length === 0) throw new Error('certificate has no IP address');
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
    return new LocalIdentity(this.cert, this.keyPair, this.caPool, blocklist);
  }
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
