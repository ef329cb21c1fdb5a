// TEMPORARY until v2-pki's "pki: v2 handshake form" lands; then identity.ts imports pki directly.
import { marshalCertificate, unmarshalCertificate, UnsupportedCertificateVersionError, type Certificate } from '../../pki/cert.js';

export function certificateForHandshake(cert: Certificate): Uint8Array {
  return marshalCertificate(cert, { omitPublicKey: true });
}

export function certificateFromHandshake(version: number, bytes: Uint8Array, publicKey: Uint8Array): Certificate {
  if (version === 2) throw new UnsupportedCertificateVersionError();
  if (version !== 1) throw new Error(`unknown certificate version ${version}`);
  return unmarshalCertificate(bytes, { publicKey });
}
