/**
 * The renewal a running node does through the enrollment service that issued its certificate
 * (config `enrollment`): prove the key with the current certificate, receive a new one with the
 * same name, IP and subnets, write it over `pki.cert` (beside the node's certificate of the other
 * version, when it holds both) and reload. Plugged into the node's CertificateRenewal by `mesh node`.
 */
import { bytesToHex, hexToBytes, type Certificate } from '../../pki/cert.js';
import { renewalProof } from '../../pki/enroll-issue.js';
import { writeOutputFiles } from '../../pki/files.js';
import { encodeCertificatePem, isInlinePem, parseCertificatePem } from '../../pki/keys.js';
import { UserError } from '../errors.js';
import type { NodeConfig } from '../node/config.js';
import type { LocalIdentity } from '../node/identity.js';
import { postEnrollment } from './enroll-client.js';

/** Fetches a renewed certificate for `identity`, writes it to `pki.cert`, then calls `reload`. */
export async function renewThroughService(config: NodeConfig, identity: LocalIdentity, reload: () => Promise<void>): Promise<void> {
  const { server, pin, serviceKey } = config.enrollment;
  if (isInlinePem(config.pki.cert)) throw new UserError('pki.cert is an inline PEM block: a renewed certificate cannot be written back; use a file');
  const current = identity.cert;
  const timestamp = Date.now();
  const proof = renewalProof(identity.keyPair.privateKey, hexToBytes(serviceKey), current, timestamp);
  const answer = await postEnrollment(server, pin, '/v1/renew', { certificate: encodeCertificatePem(current), timestamp, proof });
  let renewed: Certificate;
  try {
    renewed = parseCertificatePem(String(answer.certificate));
  } catch (err) {
    throw new UserError(`enrollment server ${server}: the renewed certificate does not parse: ${(err as Error).message}`);
  }
  if (bytesToHex(renewed.details.publicKey) !== bytesToHex(current.details.publicKey)) throw new UserError(`enrollment server ${server}: the renewed certificate is for another key`);
  const held = identity.certificates().map((h) => h.cert);
  writeOutputFiles([{ path: config.pki.cert, data: renewedCertificateFile(held, current, renewed), what: 'certificate' }], true);
  await reload();
}

/**
 * pki.cert after `current` was renewed: `renewed` in its place, the other certificates the node holds
 * (a v1 and a v2 one, as Nebula 1.10+) kept, one per version, lowest version first.
 */
export function renewedCertificateFile(held: readonly Certificate[], current: Certificate, renewed: Certificate): string {
  const kept = held.filter((c) => c !== current && c.details.version !== renewed.details.version);
  return [...kept, renewed]
    .sort((a, b) => a.details.version - b.details.version)
    .map(encodeCertificatePem)
    .join('');
}
