import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certificateFingerprint } from '../../../pki/cert.js';
import { generateX25519KeyPair } from '../../../pki/keys.js';
import { parseCertificatesPem } from '../../../pki/pem.js';
import { renewedCertificateFile } from '../../../src/cli/enroll-renew.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';

const fingerprints = (pem: string) => parseCertificatesPem(pem).map((c) => `${c.details.version}:${certificateFingerprint(c)}`);

test('a renewal keeps the certificate of the other version a host holds beside the renewed one', () => {
  const keys = generateX25519KeyPair();
  const v1 = makeHost(makeCA('v1 CA'), 'dual', '10.1.0.2/16', { keys });
  const v2 = makeHost(makeCA('v2 CA', { version: 2 }), 'dual', '10.1.0.2/16', { keys });
  const renewed = makeHost(makeCA('v1 CA again'), 'dual', '10.1.0.2/16', { keys }).cert;
  const file = renewedCertificateFile([v1.cert, v2.cert], v1.cert, renewed);
  assert.deepEqual(fingerprints(file), [`1:${certificateFingerprint(renewed)}`, `2:${certificateFingerprint(v2.cert)}`]);
});

test('a renewal of a single certificate writes just the renewed one', () => {
  const keys = generateX25519KeyPair();
  const v2 = makeHost(makeCA('v2 CA', { version: 2 }), 'solo', '10.1.0.3/16', { keys });
  const renewed = makeHost(makeCA('v2 CA again', { version: 2 }), 'solo', '10.1.0.3/16', { keys }).cert;
  assert.deepEqual(fingerprints(renewedCertificateFile([v2.cert], v2.cert, renewed)), [`2:${certificateFingerprint(renewed)}`]);
});
