/**
 * v2 certificates against Nebula's own golden values (cert/cert_v2_test.go, quoted in
 * nebula-v2-format.md) and against certificates made by Go Nebula (test/fixtures/pki/v2).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  certificateFingerprint,
  checkSignature,
  marshalCertificate,
  marshalCertificateForHandshake,
  signDetails,
  signedBytes,
  unmarshalCertificate,
  unmarshalHandshakeCertificate,
  type Certificate,
  type CertificateDetails,
} from '../../../pki/cert.js';
import { marshalDetailsV2 } from '../../../pki/cert-v2.js';
import { encodeCertificatePem, generateEd25519KeyPair, loadCertificate } from '../../../pki/keys.js';
import { formatIpNetwork, parseIpNetwork } from '../../../src/net/ip.js';
import { fixturePath, fixtureText } from './fixtures.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

/** TestCertificateV2_marshalForSigningStability (cert_v2_test.go:341-379). */
const GOLDEN_DETAILS = hex(
  'a070800774657374696e67a10e04050a0101021004050a01010118a20e0405090101031004050901010218a3270c0b746573742d67726f7570310c0b746573742d67726f7570320c0b746573742d67726f7570338504318bef808604318befbc87101234567890abcdef1234567890abcdef',
);
const GOLDEN_KEY = ascii('1234567890abcedfghij1234567890ab');
const GOLDEN_SIGNATURE = ascii('1234567890abcdef1234567890abcdef');

function goldenDetails(): CertificateDetails {
  return {
    version: 2,
    name: 'testing',
    networks: ['10.1.1.2/16', '10.1.1.1/24'].map(parseIpNetwork),
    unsafeNetworks: ['9.1.1.3/16', '9.1.1.2/24'].map(parseIpNetwork),
    groups: ['test-group1', 'test-group2', 'test-group3'],
    notBefore: 831254400, // 1996-05-05T00:00:00Z
    notAfter: 831254460,
    publicKey: GOLDEN_KEY,
    curve: 'CURVE25519',
    isCA: false,
    issuer: '1234567890abcdef1234567890abcdef',
  };
}

const goldenCert = (): Certificate => ({ details: goldenDetails(), signature: GOLDEN_SIGNATURE, rawDetails: GOLDEN_DETAILS });

test('v2 details encode byte for byte as Nebula\'s golden vector, networks in the order given', () => {
  assert.equal(toHex(marshalDetailsV2(goldenDetails())), toHex(GOLDEN_DETAILS));
});

test('v2 signed bytes are rawDetails, a raw curve byte 00, then the key (no tags)', () => {
  assert.equal(toHex(signedBytes(goldenCert())), `${toHex(GOLDEN_DETAILS)}00313233343536373839306162636564666768696a313233343536373839306162`);
  assert.equal(toHex(signedBytes({ ...goldenCert(), rawDetails: undefined })), toHex(signedBytes(goldenCert())), 'without rawDetails, the details are encoded');
});

test('v2 certificate DER: 30 81 b6 { details, 82 20 key, 83 20 signature }; parse sorts networks and re-marshals byte for byte', () => {
  const der = marshalCertificate(goldenCert());
  assert.equal(toHex(der), `3081b6${toHex(GOLDEN_DETAILS)}8220${toHex(GOLDEN_KEY)}8320${toHex(GOLDEN_SIGNATURE)}`);
  const parsed = unmarshalCertificate(der, { version: 2 });
  assert.deepEqual(parsed.details.networks.map(formatIpNetwork), ['10.1.1.1/24', '10.1.1.2/16']);
  assert.deepEqual(parsed.details.unsafeNetworks.map(formatIpNetwork), ['9.1.1.2/24', '9.1.1.3/16']);
  assert.deepEqual(parsed.details.groups, ['test-group1', 'test-group2', 'test-group3']);
  assert.equal(parsed.details.issuer, '1234567890abcdef1234567890abcdef');
  assert.equal([parsed.details.notBefore, parsed.details.notAfter].join(), '831254400,831254460');
  assert.equal(toHex(marshalCertificate(parsed)), toHex(der), 're-marshal keeps the unsorted Details bytes');
  const expected = createHash('sha256').update(Buffer.concat([GOLDEN_DETAILS, Buffer.from([0]), GOLDEN_KEY, GOLDEN_SIGNATURE])).digest('hex');
  assert.equal(certificateFingerprint(parsed), expected);
});

test('v2 fingerprint matches Nebula\'s JSON golden (TestCertificateV2_MarshalJSON, year-0 times)', () => {
  const details: CertificateDetails = {
    ...goldenDetails(),
    networks: ['10.1.1.1/24', '10.1.1.2/16'].map(parseIpNetwork),
    unsafeNetworks: ['9.1.1.2/24', '9.1.1.3/16'].map(parseIpNetwork),
    notBefore: -62138358000, // 0000-11-30T01:00:00Z
    notAfter: -62138354400,
    publicKey: ascii('1234567890abcedf1234567890abcedf'),
    issuer: '1234567890abcedf1234567890abcedf',
  };
  const cert: Certificate = { details, signature: ascii('1234567890abcedf'.repeat(4)) };
  assert.ok(toHex(marshalDetailsV2(details)).includes('8505f18843e710'), 'notBefore -62138358000 is 85 05 f1 88 43 e7 10');
  assert.equal(certificateFingerprint(cert), '152d9a7400c1e001cb76cffd035215ebb351f69eeb797f7f847dd086e15e56dd');
});

test('handshake form: 30 LL { rawDetails, 83 signature } without key and curve; recombined with the Noise key it is the same certificate', () => {
  const cert = goldenCert();
  const form = marshalCertificateForHandshake(cert);
  assert.equal(toHex(form), `308194${toHex(GOLDEN_DETAILS)}8320${toHex(GOLDEN_SIGNATURE)}`); // 0x94 = 112 + 2 + 34
  const back = unmarshalHandshakeCertificate(2, form, GOLDEN_KEY);
  assert.equal(toHex(back.details.publicKey), toHex(GOLDEN_KEY));
  assert.equal(certificateFingerprint(back), certificateFingerprint(cert));
  assert.equal(toHex(marshalCertificate(back)), toHex(marshalCertificate(cert)));
  assert.throws(() => unmarshalHandshakeCertificate(2, marshalCertificate(cert), GOLDEN_KEY), /^CertificateError: certificate has unexpected pubkey present$/);
  assert.throws(() => unmarshalHandshakeCertificate(3, form, GOLDEN_KEY), /certificate version unrecognized/);
  assert.throws(() => unmarshalHandshakeCertificate(2, form, new Uint8Array(0)), /no peer static key was present/);
  assert.throws(() => unmarshalHandshakeCertificate(2, new Uint8Array(0), GOLDEN_KEY), /provided payload was empty/);
  // Without a curve element, a v2 certificate takes the receiver's curve (its signature then decides).
  assert.equal(unmarshalHandshakeCertificate(2, form, GOLDEN_KEY, 'P256').details.curve, 'P256');
  const v1 = marshalCertificateForHandshake(loadCertificate(fixturePath('host1.crt')));
  assert.throws(() => unmarshalHandshakeCertificate(1, v1, GOLDEN_KEY, 'P256'), /^CertificateError: certificate curve CURVE25519 does not match expected P256$/);
});

test('a signed v2 certificate survives the handshake: the recombined one verifies under the CA key, another key does not', () => {
  const ca = generateEd25519KeyPair();
  const hostKey = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const cert = signDetails({ ...goldenDetails(), publicKey: hostKey, networks: ['fd00::2/64', '10.1.0.2/16'].map(parseIpNetwork), unsafeNetworks: [], issuer: 'ab'.repeat(32) }, ca.privateKey);
  assert.deepEqual(cert.details.networks.map(formatIpNetwork), ['10.1.0.2/16', 'fd00::2/64'], 'signing sorts, IPv4 first');
  assert.ok(checkSignature(cert, ca.publicKey));
  const form = marshalCertificateForHandshake(cert);
  const back = unmarshalHandshakeCertificate(2, form, hostKey);
  assert.ok(checkSignature(back, ca.publicKey));
  assert.equal(certificateFingerprint(back), certificateFingerprint(cert));
  const impostor = unmarshalHandshakeCertificate(2, form, Uint8Array.from({ length: 32 }, () => 9));
  assert.equal(checkSignature(impostor, ca.publicKey), false, 'another Noise key breaks the signature');
});

test('v1 handshake form is unchanged: the protobuf without field 7, recombined for CertVersion 0 and 1', () => {
  const cert = loadCertificate(fixturePath('host1.crt'));
  const form = marshalCertificateForHandshake(cert);
  assert.equal(toHex(form), toHex(marshalCertificate(cert, { omitPublicKey: true })));
  for (const version of [0, 1]) {
    const back = unmarshalHandshakeCertificate(version, form, cert.details.publicKey);
    assert.equal(certificateFingerprint(back), certificateFingerprint(cert));
  }
});

test('certificates made by Go Nebula parse and re-marshal byte for byte, and verify under their CA keys', () => {
  for (const [caName, hostName, curve] of [['ed25519-ca.crt', 'ed25519-host.crt', 'CURVE25519'], ['p256-ca.crt', 'p256-host.crt', 'P256']] as const) {
    const ca = loadCertificate(fixturePath(`v2/${caName}`));
    const host = loadCertificate(fixturePath(`v2/${hostName}`));
    for (const [name, cert] of [[caName, ca], [hostName, host]] as const) {
      assert.equal(encodeCertificatePem(cert), fixtureText(`v2/${name}`), `${name}: PEM re-encoding is identical`);
    }
    assert.equal(ca.details.curve, curve);
    assert.equal(host.details.issuer, certificateFingerprint(ca), `${hostName}: issuer is the CA fingerprint`);
    assert.ok(checkSignature(ca, ca.details.publicKey), `${caName} is self-signed`);
    assert.ok(checkSignature(host, ca.details.publicKey), `${hostName} is signed by ${caName}`);
    const back = unmarshalHandshakeCertificate(2, marshalCertificateForHandshake(host), host.details.publicKey, curve);
    assert.ok(checkSignature(back, ca.details.publicKey), `${hostName} recombined from the handshake form`);
  }
  const host = loadCertificate(fixturePath('v2/ed25519-host.crt'));
  assert.deepEqual(host.details.networks.map(formatIpNetwork), ['10.1.0.2/16', '192.168.1.2/24', 'fd98::2/64', 'fd99:eeee:eeee:eeee:aaaa:bbbb:cccc:fff2/64']);
  assert.deepEqual(host.details.unsafeNetworks.map(formatIpNetwork), ['0.0.0.0/0', '::/0']);
});
