/**
 * The renewal a running node does through the enrollment service that issued its certificate
 * (config `enrollment`): prove the key with the current certificate, receive a new one with the
 * same name, IP and subnets, write it over `pki.cert` and reload. Plugged into the node's
 * CertificateRenewal by `mesh node`.
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
  writeOutputFiles([{ path: config.pki.cert, data: encodeCertificatePem(renewed), what: 'certificate' }], true);
  await reload();
}
