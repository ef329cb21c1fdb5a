import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CAPool } from '../../../pki/ca-pool.js';
import {
  certificateFingerprint,
  CertificateError,
  signDetails,
  type Certificate,
  type CertificateDetails,
} from '../../../pki/cert.js';
import { generateX25519KeyPair, loadCAPool, loadCertificate, loadEd25519PrivateKey } from '../../../pki/keys.js';
import { createCA } from '../../../pki/sign.js';
import { parseIpNetwork } from '../../../src/net/ip.js';
import { fixturePath, fixtureText } from './fixtures.js';

const NOW = new Date();

function reason(pool: CAPool, cert: Certificate, now = NOW, blocklist?: ReadonlySet<string>): string | undefined {
  try {
    pool.verify(cert, now, blocklist);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof CertificateError, String(err));
    return err.message;
  }
}

test('nebula-cert fixtures verify against their CA; CA bundles (rotation) work', () => {
  const pool = loadCAPool(fixturePath('ca.crt'));
  assert.equal(reason(pool, loadCertificate(fixturePath('host1.crt'))), undefined);
  assert.equal(reason(pool, loadCertificate(fixturePath('host2.crt'))), undefined);
  const bundle = loadCAPool(fixturePath('bundle.crt'));
  assert.equal(bundle.cas.length, 2);
  assert.equal(reason(bundle, loadCertificate(fixturePath('host1.crt'))), undefined);
  assert.equal(reason(bundle, loadCertificate(fixturePath('other.crt'))), undefined);
  const ca = loadCertificate(fixturePath('ca.crt'));
  assert.equal(bundle.get(certificateFingerprint(ca))?.details.name, 'Test CA');
  assert.equal(bundle.get('00'.repeat(32)), undefined);
});

test('a tampered certificate is rejected: certificate signature did not match', () => {
  const pool = loadCAPool(fixturePath('ca.crt'));
  const host1 = loadCertificate(fixturePath('host1.crt'));
  const sig = Uint8Array.from(host1.signature);
  sig[0]! ^= 0x80;
  assert.equal(reason(pool, { ...host1, signature: sig }), 'certificate signature did not match');
  const widened = { ...host1, details: { ...host1.details, groups: ['laptops'] } };
  assert.equal(reason(pool, widened), 'certificate signature did not match');
  const otherKey = { ...host1, details: { ...host1.details, publicKey: generateX25519KeyPair().publicKey } };
  assert.equal(reason(pool, otherKey), 'certificate signature did not match');
});

test('an expired certificate is rejected: certificate is expired', () => {
  const pool = loadCAPool(fixturePath('ca.crt'));
  const expired = loadCertificate(fixturePath('expired.crt'));
  assert.equal(reason(pool, expired), 'certificate is expired');
  // Bounds are inclusive: valid at NotBefore and at NotAfter, not one second outside.
  const d = expired.details;
  assert.equal(reason(pool, expired, new Date(d.notBefore * 1000)), undefined);
  assert.equal(reason(pool, expired, new Date(d.notAfter * 1000)), undefined);
  assert.equal(reason(pool, expired, new Date(d.notAfter * 1000 + 1)), 'certificate is expired');
  // Not yet valid counts as expired too (a cert starting 100 s after its CA, checked at +50 s).
  const ca = pool.cas[0]!;
  const later = signDetails({ ...expired.details, notBefore: ca.details.notBefore + 100, notAfter: ca.details.notBefore + 200 }, loadEd25519PrivateKey(fixturePath('ca.key')));
  assert.equal(reason(pool, later, new Date((ca.details.notBefore + 50) * 1000)), 'certificate is expired');
  assert.equal(reason(pool, later, new Date((ca.details.notBefore + 100) * 1000)), undefined);
});

test('a certificate from another CA is rejected: could not find ca for the certificate', () => {
  const pool = loadCAPool(fixturePath('ca.crt'));
  assert.equal(reason(pool, loadCertificate(fixturePath('other.crt'))), 'could not find ca for the certificate');
  assert.equal(reason(pool, loadCertificate(fixturePath('ca2.crt'))), 'no issuer in certificate');
  // A forged issuer (right fingerprint, signed by the wrong key) fails on the signature.
  const other = loadCertificate(fixturePath('other.crt'));
  const forged = signDetails({ ...other.details, issuer: certificateFingerprint(pool.cas[0]!) }, loadEd25519PrivateKey(fixturePath('ca2.key')));
  assert.equal(reason(pool, forged), 'certificate signature did not match');
});

test('an expired CA: root certificate is expired (loaded into the pool, reported on verify)', () => {
  const pool = loadCAPool(fixturePath('ca-expired.crt'));
  assert.equal(pool.expired(NOW).length, 1);
  assert.equal(reason(pool, loadCertificate(fixturePath('short.crt'))), 'root certificate is expired');
  const short = loadCertificate(fixturePath('short.crt'));
  assert.equal(reason(pool, short, new Date(short.details.notBefore * 1000)), undefined);
});

test('blocklist by fingerprint: certificate is in the block list', () => {
  const pool = loadCAPool(fixturePath('ca.crt'));
  const host1 = loadCertificate(fixturePath('host1.crt'));
  const fp = certificateFingerprint(host1);
  assert.equal(reason(pool, host1, NOW, new Set([fp])), 'certificate is in the block list');
  assert.equal(reason(pool, host1, NOW, new Set(['ab'.repeat(32)])), undefined);
  pool.blocklistFingerprint(fp.toUpperCase());
  assert.equal(reason(pool, host1), 'certificate is in the block list');
  assert.equal(reason(pool, loadCertificate(fixturePath('host2.crt'))), undefined);
});

test('CA constraints are enforced on verify (certs crafted past nebula-cert\'s checks)', () => {
  const caKey = loadEd25519PrivateKey(fixturePath('ca.key'));
  const ca = loadCertificate(fixturePath('ca.crt'));
  const pool = CAPool.fromPem(fixtureText('ca.crt'));
  const base: CertificateDetails = {
    version: 1, name: 'crafted', curve: 'CURVE25519', networks: [parseIpNetwork('10.42.1.2/24')], unsafeNetworks: [parseIpNetwork('192.168.7.0/24')], groups: ['servers'],
    notBefore: ca.details.notBefore, notAfter: ca.details.notAfter, publicKey: generateX25519KeyPair().publicKey,
    isCA: false, issuer: certificateFingerprint(ca),
  };
  const check = (overrides: Partial<CertificateDetails>) => reason(pool, signDetails({ ...base, ...overrides }, caKey));
  assert.equal(check({}), undefined);
  assert.equal(check({ groups: ['servers', 'admins'] }), 'certificate contained a group not present on the signing ca: admins');
  assert.equal(check({ networks: [parseIpNetwork('10.43.0.1/24')] }), 'certificate contained an ip assignment outside the limitations of the signing ca: 10.43.0.1/24');
  assert.equal(check({ networks: [parseIpNetwork('10.42.0.1/8')] }), 'certificate contained an ip assignment outside the limitations of the signing ca: 10.42.0.1/8');
  assert.equal(check({ networks: [parseIpNetwork('10.42.0.1/16')] }), undefined);
  assert.equal(check({ networks: [parseIpNetwork('10.42.0.1/32')] }), undefined);
  assert.equal(check({ unsafeNetworks: [parseIpNetwork('10.0.0.0/8')] }), 'certificate contained a subnet assignment outside the limitations of the signing ca: 10.0.0.0/8');
  assert.equal(check({ unsafeNetworks: [parseIpNetwork('192.0.0.0/8')] }), 'certificate contained a subnet assignment outside the limitations of the signing ca: 192.0.0.0/8');
  assert.equal(check({ notAfter: ca.details.notAfter + 1 }), 'certificate expires after signing certificate');
  assert.equal(check({ notBefore: ca.details.notBefore - 1 }), 'certificate is valid before the signing certificate');
  // A CA without constraints allows anything.
  const open = createCA({ name: 'open' });
  const openPool = CAPool.fromCertificates([open.cert]);
  const anything = signDetails({ ...base, groups: ['x'], networks: [parseIpNetwork('1.2.3.4/1')], unsafeNetworks: [parseIpNetwork('0.0.0.0/0')], notBefore: open.cert.details.notBefore, notAfter: open.cert.details.notAfter, issuer: certificateFingerprint(open.cert) }, open.privateKey);
  assert.equal(reason(openPool, anything, new Date(open.cert.details.notBefore * 1000 + 500)), undefined);
});

test('CA pool loading: IsCA and self-signature required; garbage rejected', () => {
  assert.throws(() => CAPool.fromPem(fixtureText('host1.crt')), /host1: certificate is not a CA/);
  assert.throws(() => CAPool.fromPem(fixtureText('ca.crt') + fixtureText('host1.crt')), /host1: certificate is not a CA/);
  assert.throws(() => CAPool.fromPem(''), /did not contain a valid PEM/);
  assert.throws(() => CAPool.fromPem(fixtureText('ca.key')), /expected PEM banner "NEBULA CERTIFICATE"/);
  const ca = loadCertificate(fixturePath('ca.crt'));
  const fake = { ...ca, details: { ...ca.details, name: 'Evil CA' } };
  assert.throws(() => CAPool.fromCertificates([fake]), /Evil CA: certificate is not self-signed/);
});
