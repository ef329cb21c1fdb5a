/**
 * What both start-up snapshots (src/cli/snapshot.ts, src/cli/snapshot-tools.ts) share: the first
 * certificate decode, run at build time, and the start of a run from the blob.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { startupSnapshot } from 'node:v8';
import { marshalCertificate, type Certificate, type CertificateDetails } from '../../pki/cert.js';
import { CERT_BANNER, encodePem, parseCertificatesPem } from '../../pki/pem.js';
import { parseIpNetwork } from '../net/ip.js';
import type { Commands } from './commands.js';
import { main } from './main.js';

/** A certificate encoded, PEM-wrapped and decoded, as a node's start and `mesh ca` do; returns it. */
export function warmUpCertificate(): Certificate {
  const details: CertificateDetails = {
    version: 1,
    name: 'snapshot',
    networks: [parseIpNetwork('10.1.0.1/16')],
    unsafeNetworks: [],
    groups: ['snapshot'],
    notBefore: 0,
    notAfter: 1,
    publicKey: new Uint8Array(32),
    curve: 'CURVE25519',
    isCA: false,
    issuer: '00'.repeat(32),
  };
  return parseCertificatesPem(encodePem(CERT_BANNER, marshalCertificate({ details, signature: new Uint8Array(64) })))[0]!;
}

/** A start from the blob runs `commands` on the command line. */
export function startFromSnapshot(commands: Commands): void {
  startupSnapshot.setDeserializeMainFunction(() => {
    // The bundle's `import.meta.url` (scripts/bundle.mjs): the launcher, run from the blob as its script.
    (globalThis as { __meshBundleUrl?: string }).__meshBundleUrl = pathToFileURL(realpathSync(process.argv[1]!)).href;
    main(process.argv.slice(2), commands).then((code) => (process.exitCode = code));
  });
}
