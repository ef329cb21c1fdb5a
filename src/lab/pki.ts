import { createCA, signCertificate } from '../../pki/sign.js';
import { encodeCertificatePem, encodeEd25519PrivateKeyPem, encodeX25519PrivateKeyPem, generateX25519KeyPair } from '../../pki/keys.js';
import type { Certificate, CertificateVersion } from '../../pki/cert.js';
import { parseIpNetwork } from '../net/ip.js';

export interface TestCA {
  cert: Certificate;
  key: Uint8Array;
  pem: string;
  keyPem: string;
}

export interface TestHost {
  name: string;
  ip: string;
  cert: Certificate;
  /** Inline PEM strings, accepted by pki.ca/cert/key like Nebula's. */
  ca: string;
  certPem: string;
  keyPem: string;
}

const HOUR_NS = 3600n * 1_000_000_000n;

/** A CA; `version` 2 makes a v2 (Nebula 1.10+) CA, whose host certificates are v2 as well. */
export function makeCA(name = 'Test CA', options: { groups?: string[]; ips?: string[]; subnets?: string[]; hours?: number; now?: Date; version?: CertificateVersion } = {}): TestCA {
  const { cert, privateKey } = createCA({
    name,
    version: options.version,
    durationNs: BigInt(options.hours ?? 24) * HOUR_NS,
    groups: options.groups,
    networks: options.ips?.map(parseIpNetwork),
    unsafeNetworks: options.subnets?.map(parseIpNetwork),
    now: options.now,
  });
  return { cert, key: privateKey, pem: encodeCertificatePem(cert), keyPem: encodeEd25519PrivateKeyPem(privateKey) };
}

export function makeHost(
  ca: TestCA,
  name: string,
  ipCidr: string,
  options: { groups?: string[]; subnets?: string[]; durationNs?: bigint; now?: Date; keys?: { publicKey: Uint8Array; privateKey: Uint8Array } } = {},
): TestHost {
  // The same keys under several certificates: a host holding a v1 and a v2 certificate.
  const keys = options.keys ?? generateX25519KeyPair();
  // The host's version follows its CA's, as nebula-cert sign's default.
  const cert = signCertificate({
    caCert: ca.cert,
    caKey: ca.key,
    name,
    // Several networks, comma separated, for v2 hosts ("10.42.0.2/16,fd42::2/64").
    networks: ipCidr.split(',').map((n) => parseIpNetwork(n.trim())),
    unsafeNetworks: options.subnets?.map(parseIpNetwork),
    groups: options.groups,
    publicKey: keys.publicKey,
    durationNs: options.durationNs,
    now: options.now,
  });
  return { name, ip: ipCidr.split('/')[0]!, cert, ca: ca.pem, certPem: encodeCertificatePem(cert), keyPem: encodeX25519PrivateKeyPem(keys.privateKey) };
}
