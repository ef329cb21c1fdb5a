import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CAPool } from '../../../pki/ca-pool.js';
import { certificateFingerprint, checkSignature, CertificateError, marshalCertificate, unmarshalCertificate } from '../../../pki/cert.js';
import { formatGoDuration, parseGoDuration } from '../../../pki/duration.js';
import { generateEd25519KeyPair, generateX25519KeyPair, loadCertificate, loadEd25519PrivateKey } from '../../../pki/keys.js';
import { createCA, signCertificate } from '../../../pki/sign.js';
import { formatIpNetwork, parseIpNetwork } from '../../../src/net/ip.js';
import { fixturePath } from './fixtures.js';

const S = 1_000_000_000n;

test('Go duration syntax', () => {
  assert.equal(parseGoDuration('8760h'), 8760n * 3600n * S);
  assert.equal(parseGoDuration('1h30m'), 5400n * S);
  assert.equal(parseGoDuration('90s'), 90n * S);
  assert.equal(parseGoDuration('1s'), S);
  assert.equal(parseGoDuration('1.5h'), 5400n * S);
  assert.equal(parseGoDuration('300ms'), 300_000_000n);
  assert.equal(parseGoDuration('2h45m10.5s'), (2n * 3600n + 45n * 60n + 10n) * S + S / 2n);
  assert.equal(parseGoDuration('1µs'), 1000n);
  assert.equal(parseGoDuration('0'), 0n);
  assert.equal(parseGoDuration('-1m'), -60n * S);
  assert.equal(parseGoDuration('.5s'), S / 2n);
  for (const bad of ['', '1', 'h', '1d', '1hh', '1.h.', 'abc', '1h 30m', '-', '99999999999999999999h']) {
    assert.throws(() => parseGoDuration(bad), /duration/, bad);
  }
  assert.equal(formatGoDuration(8760n * 3600n * S), '8760h0m0s');
  assert.equal(formatGoDuration(90n * S), '1m30s');
  assert.equal(formatGoDuration(S), '1s');
  assert.equal(formatGoDuration(0n), '0s');
});

test('createCA: self-signed, times from now + duration, constraints stored like nebula-cert', () => {
  const now = new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 900));
  const ca = createCA({ name: 'CA', durationNs: parseGoDuration('1h30m'), groups: [' a', '', 'b '], networks: [parseIpNetwork('10.42.3.4/16')], unsafeNetworks: [parseIpNetwork('192.168.50.7/24')], now });
  const d = ca.cert.details;
  assert.equal(d.notBefore, Date.UTC(2030, 0, 1) / 1000);
  assert.equal(d.notAfter, d.notBefore + 5400);
  assert.deepEqual(d.groups, ['a', 'b']);
  assert.deepEqual(d.networks.map(formatIpNetwork), ['10.42.3.4/16']);
  assert.deepEqual(d.unsafeNetworks.map(formatIpNetwork), ['192.168.50.0/24']);
  assert.equal(d.isCA, true);
  assert.equal(d.issuer, '');
  assert.ok(checkSignature(ca.cert, d.publicKey));
  assert.deepEqual(ca.privateKey.subarray(32), d.publicKey);
  assert.deepEqual(unmarshalCertificate(marshalCertificate(ca.cert)), ca.cert);
  assert.throws(() => createCA({ name: 'x', durationNs: 0n }), /greater than 0/);
  const reuse = createCA({ name: 'again', privateKey: ca.privateKey });
  assert.deepEqual(reuse.cert.details.publicKey, d.publicKey);
});

test('signCertificate: defaults, host address kept, subnets normalised, verifies in the pool', () => {
  const ca = loadCertificate(fixturePath('ca.crt'));
  const caKey = loadEd25519PrivateKey(fixturePath('ca.key'));
  const { publicKey } = generateX25519KeyPair();
  const cert = signCertificate({ caCert: ca, caKey, name: 'h', networks: [parseIpNetwork('10.42.0.2/16')], unsafeNetworks: [parseIpNetwork('192.168.2.9/24')], groups: ['servers'], publicKey });
  const d = cert.details;
  assert.deepEqual(d.networks.map(formatIpNetwork), ['10.42.0.2/16']);
  assert.deepEqual(d.unsafeNetworks.map(formatIpNetwork), ['192.168.2.0/24']);
  assert.equal(d.notAfter, ca.details.notAfter - 1, 'default: one second before the CA expires');
  assert.ok(Math.abs(d.notBefore - Date.now() / 1000) < 5);
  assert.equal(d.issuer, certificateFingerprint(ca));
  assert.equal(d.isCA, false);
  CAPool.fromCertificates([ca]).verify(cert);
  const short = signCertificate({ caCert: ca, caKey, name: 'h', networks: [parseIpNetwork('10.42.0.2/16')], publicKey, durationNs: parseGoDuration('1h') });
  assert.equal(short.details.notAfter - short.details.notBefore, 3600);
});

test('signCertificate refuses what nebula-cert refuses', () => {
  const ca = loadCertificate(fixturePath('ca.crt'));
  const caKey = loadEd25519PrivateKey(fixturePath('ca.key'));
  const { publicKey } = generateX25519KeyPair();
  const base = { caCert: ca, caKey, name: 'h', networks: [parseIpNetwork('10.42.0.2/24')], publicKey };
  const refuses = (overrides: object, expected: RegExp) =>
    assert.throws(() => signCertificate({ ...base, ...overrides }), (err: unknown) => err instanceof CertificateError && expected.test(err.message));
  refuses({ networks: [parseIpNetwork('10.43.0.2/24')] }, /constraints violated: certificate contained an ip assignment outside the limitations of the signing ca: 10.43.0.2\/24/);
  refuses({ networks: [parseIpNetwork('10.42.0.2/8')] }, /ip assignment outside/);
  refuses({ unsafeNetworks: [parseIpNetwork('10.0.0.0/8')] }, /subnet assignment outside/);
  refuses({ groups: ['admins'] }, /group not present on the signing ca: admins/);
  refuses({ durationNs: parseGoDuration('900000h') }, /certificate expires after signing certificate/);
  refuses({ caKey: loadEd25519PrivateKey(fixturePath('ca2.key')) }, /root certificate does not match private key/);
  refuses({ caKey: generateEd25519KeyPair().privateKey.subarray(0, 40) }, /invalid CA key/);
  refuses({ caCert: loadCertificate(fixturePath('host1.crt')) }, /not a CA/);
  refuses({ caCert: loadCertificate(fixturePath('ca-expired.crt')), caKey: loadEd25519PrivateKey(fixturePath('ca-expired.key')) }, /ca certificate is expired/);
  refuses({ publicKey: new Uint8Array(31) }, /public key must be 32 bytes/);
  refuses({ networks: [] }, /at least one ip/);
  refuses({ durationNs: -1n }, /greater than 0/);
});
