import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import {
  certificateFingerprint,
  certificateToJson,
  CertificateError,
  checkSignature,
  marshalCertificate,
  marshalDetails,
  unmarshalCertificate,
  type Certificate,
  type CertificateDetails,
} from '../../../pki/cert.js';
import { decodePem, CERT_BANNER } from '../../../pki/pem.js';
import {
  ed25519PublicFromPrivate,
  loadCertificate,
  loadEd25519PrivateKey,
  loadX25519PrivateKey,
  loadX25519PublicKey,
  x25519PublicFromPrivate,
} from '../../../pki/keys.js';
import { formatIpNetwork, parseIpNetwork } from '../../../src/net/ip.js';
import { bytes, field, fixtureJson, fixturePath, fixtureText, varint } from './fixtures.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const der = (name: string) => decodePem(fixtureText(name), CERT_BANNER);

const CERTS = ['ca', 'host1', 'host2', 'ca2', 'other'];

test('fixtures from nebula-cert: decode, canonical re-encode is byte-identical, fields match print -json', () => {
  for (const name of CERTS) {
    const raw = der(`${name}.crt`);
    const cert = unmarshalCertificate(raw);
    const json = fixtureJson(name);
    assert.deepEqual(marshalCertificate(cert), raw, `${name}: re-encoding differs`);
    assert.equal(createHash('sha256').update(raw).digest('hex'), json.fingerprint, name);
    assert.equal(certificateFingerprint(cert), json.fingerprint, name);
    const d = cert.details;
    assert.equal(d.name, json.details.name);
    assert.deepEqual(d.networks.map(formatIpNetwork), json.details.ips);
    assert.deepEqual(d.unsafeNetworks.map(formatIpNetwork), json.details.subnets);
    assert.deepEqual(d.groups, json.details.groups);
    assert.equal(d.isCA, json.details.isCa);
    assert.equal(d.issuer, json.details.issuer);
    assert.equal(hex(d.publicKey), json.details.publicKey);
    assert.equal(hex(cert.signature), json.signature);
    assert.equal(d.notBefore * 1000, Date.parse(json.details.notBefore));
    assert.equal(d.notAfter * 1000, Date.parse(json.details.notAfter));
  }
});

test('print --json output equals nebula-cert print -json byte for byte (UTC)', () => {
  const saved = process.env['TZ'];
  process.env['TZ'] = 'UTC';
  try {
    for (const name of CERTS) {
      assert.equal(certificateToJson(unmarshalCertificate(der(`${name}.crt`))), fixtureText(`${name}.json`).trimEnd(), name);
    }
  } finally {
    if (saved === undefined) delete process.env['TZ'];
    else process.env['TZ'] = saved;
  }
});

test('issuer is the CA fingerprint and the signatures verify with the CA key', () => {
  const ca = loadCertificate(fixturePath('ca.crt'));
  const host1 = loadCertificate(fixturePath('host1.crt'));
  const other = loadCertificate(fixturePath('other.crt'));
  assert.equal(ca.details.issuer, '');
  assert.equal(host1.details.issuer, certificateFingerprint(ca));
  assert.ok(checkSignature(ca, ca.details.publicKey), 'CA self-signature');
  assert.ok(checkSignature(host1, ca.details.publicKey), 'host1 signed by CA');
  assert.ok(!checkSignature(other, ca.details.publicKey), 'other is not signed by ca');
  const tampered: Certificate = { ...host1, signature: Uint8Array.from(host1.signature) };
  tampered.signature[10]! ^= 1;
  assert.ok(!checkSignature(tampered, ca.details.publicKey));
  const renamed: Certificate = { ...host1, details: { ...host1.details, name: 'host9' } };
  assert.ok(!checkSignature(renamed, ca.details.publicKey));
});

test('keys: X25519(private) == cert public key, keygen pub matches, CA key halves match', () => {
  const host1 = loadCertificate(fixturePath('host1.crt'));
  const key1 = loadX25519PrivateKey(fixturePath('host1.key'));
  assert.equal(key1.length, 32);
  assert.deepEqual(x25519PublicFromPrivate(key1), host1.details.publicKey);
  assert.deepEqual(x25519.getPublicKey(key1), host1.details.publicKey);
  const host2 = loadCertificate(fixturePath('host2.crt'));
  assert.deepEqual(loadX25519PublicKey(fixturePath('host2.pub')), host2.details.publicKey);
  assert.deepEqual(x25519PublicFromPrivate(loadX25519PrivateKey(fixturePath('host2.key'))), host2.details.publicKey);
  const ca = loadCertificate(fixturePath('ca.crt'));
  const caKey = loadEd25519PrivateKey(fixturePath('ca.key'));
  assert.equal(caKey.length, 64);
  assert.deepEqual(caKey.subarray(32), ca.details.publicKey);
  assert.deepEqual(ed25519PublicFromPrivate(caKey), ca.details.publicKey);
});

test('canonical layout matches the documented encoding of a nebula-cert host cert', () => {
  const raw = der('host1.crt');
  const cert = unmarshalCertificate(raw);
  const details = marshalDetails(cert.details);
  // field 1 (0x0a), one-byte length, then the details; then field 2 (0x12) with 64 bytes.
  assert.equal(raw[0], 0x0a);
  assert.equal(raw[1], details.length);
  assert.deepEqual(raw.subarray(2, 2 + details.length), details);
  assert.deepEqual([...raw.subarray(2 + details.length, 4 + details.length)], [0x12, 0x40]);
  const expectedStart = bytes(
    [0x0a, 5], Buffer.from('host1'),
    Buffer.from('12098580a85180feffff0f', 'hex'), // Ips [10.42.0.5, 255.255.255.0], packed
    Buffer.from('1a0a80e4a0850c80feffff0f', 'hex'), // Subnets [192.168.50.0, 255.255.255.0]
    [0x22, 7], Buffer.from('servers'),
  );
  assert.deepEqual(details.subarray(0, expectedStart.length), expectedStart);
  // CA: IsCA (40 01) right after the public key, no issuer.
  const ca = unmarshalCertificate(der('ca.crt'));
  const caDetails = marshalDetails(ca.details);
  const pk = caDetails.indexOf(0x3a);
  assert.deepEqual([...caDetails.subarray(caDetails.length - 2)], [0x40, 0x01]);
  assert.ok(pk > 0);
});

function details(overrides: Partial<CertificateDetails> = {}): CertificateDetails {
  return {
    version: 1, name: '', networks: [], unsafeNetworks: [], groups: [], notBefore: 0, notAfter: 0, curve: 'CURVE25519',
    publicKey: new Uint8Array(32).fill(7), isCA: false, issuer: '', ...overrides,
  };
}

test('proto3 zero values are omitted; empty group strings are kept; fields ascend', () => {
  assert.deepEqual(marshalDetails(details()), bytes([0x3a, 0x20], new Uint8Array(32).fill(7)));
  assert.deepEqual(
    marshalDetails(details({ groups: ['', 'a'] })),
    bytes([0x22, 0x00, 0x22, 0x01, 0x61, 0x3a, 0x20], new Uint8Array(32).fill(7)),
  );
  const full = marshalDetails(details({
    name: 'n', networks: [parseIpNetwork('10.0.0.1/8')], unsafeNetworks: [parseIpNetwork('10.1.0.0/16')], groups: ['g'],
    notBefore: 1, notAfter: 2, isCA: true, issuer: 'ab'.repeat(32),
  }));
  const tags: number[] = [];
  for (let i = 0; i < full.length;) {
    const tag = full[i]!;
    tags.push(tag >> 3);
    i++;
    if ((tag & 7) === 2) { const len = full[i]!; i += 1 + len; } else { while (full[i]! & 0x80) i++; i++; }
  }
  assert.deepEqual(tags, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // A certificate with empty details still writes field 1 (as Go does).
  const emptyCert = marshalCertificate({ details: details({ publicKey: new Uint8Array(0) }), signature: new Uint8Array(0) });
  assert.deepEqual(emptyCert, Uint8Array.from([0x0a, 0x00]));
});

test('negative times are encoded as 10-byte two\'s complement varints and round-trip', () => {
  const d = details({ notBefore: -62135596800, notAfter: 1 });
  const enc = marshalDetails(d);
  assert.deepEqual([...enc.subarray(0, 11)], [0x28, ...varint(-62135596800n)]);
  assert.equal(enc.length, 11 + 2 + 34);
  const cert = unmarshalCertificate(bytes(field(1, 2, enc), field(2, 2, new Uint8Array(64))));
  assert.equal(cert.details.notBefore, -62135596800);
});

test('unknown fields are dropped on re-encode; unpacked Ips are accepted and re-packed', () => {
  const raw = der('host1.crt');
  const cert = unmarshalCertificate(raw);
  const d = marshalDetails(cert.details);
  const withUnknown = bytes(field(1, 2, bytes(d, field(15, 0, varint(5)), field(100, 0, varint(1)))), field(2, 2, cert.signature), field(3, 2, [1, 2]));
  const parsed = unmarshalCertificate(withUnknown);
  assert.deepEqual(marshalCertificate(parsed), raw);
  assert.equal(certificateFingerprint(parsed), fixtureJson('host1').fingerprint);

  const unpacked = bytes(field(1, 2, bytes(
    field(1, 2, Buffer.from('x')), field(2, 0, varint(0x0a2a0005)), field(2, 0, varint(0xffffff00)),
    field(7, 2, new Uint8Array(32)),
  )), field(2, 2, new Uint8Array(64)));
  const u = unmarshalCertificate(unpacked);
  assert.deepEqual(u.details.networks.map(formatIpNetwork), ['10.42.0.5/24']);
  assert.deepEqual([...marshalDetails(u.details).subarray(3, 5)], [0x12, 0x09]);
});

test('handshake form: public key omitted on marshal and supplied on unmarshal', () => {
  const raw = der('host1.crt');
  const cert = unmarshalCertificate(raw);
  const noKey = marshalCertificate(cert, { omitPublicKey: true });
  assert.ok(noKey.length < raw.length);
  assert.throws(() => unmarshalCertificate(noKey), /public key is 0 bytes/);
  const back = unmarshalCertificate(noKey, { publicKey: cert.details.publicKey });
  assert.equal(certificateFingerprint(back), fixtureJson('host1').fingerprint);
});

function validDetails(extra: number[] = []): Uint8Array {
  return bytes(field(1, 2, Buffer.from('h')), field(7, 2, new Uint8Array(32).fill(1)), extra);
}
const sig = field(2, 2, new Uint8Array(64));

test('strict decoding rejects malformed protobuf with clear CertificateErrors', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty input', new Uint8Array(0), /empty certificate data/],
    ['missing details', bytes(sig), /Details was nil/],
    ['Details as varint', bytes(field(1, 0, varint(3)), sig), /Details \(1\) has wrong wire type 0/],
    ['Signature as varint', bytes(field(1, 2, validDetails()), field(2, 0, varint(1))), /Signature \(2\) has wrong wire type 0/],
    ['Name as varint', bytes(field(1, 2, bytes(field(1, 0, varint(1)), field(7, 2, new Uint8Array(32)))), sig), /Name \(1\) has wrong wire type 0/],
    ['NotBefore as bytes', bytes(field(1, 2, validDetails(field(5, 2, [1]))), sig), /NotBefore \(5\) has wrong wire type 2/],
    ['IsCA as fixed32', bytes(field(1, 2, validDetails(field(8, 5, [1, 0, 0, 0]))), sig), /IsCA \(8\) has wrong wire type 5/],
    ['PublicKey as fixed64', bytes(field(1, 2, bytes(field(7, 1, new Uint8Array(8)))), sig), /PublicKey \(7\) has wrong wire type 1/],
    ['Groups as varint', bytes(field(1, 2, validDetails(field(4, 0, [1]))), sig), /Groups \(4\) has wrong wire type 0/],
    ['group wire type', bytes(field(1, 2, validDetails()), sig, [0x1b]), /invalid wire type 3/],
    ['trailing zero byte', bytes(field(1, 2, validDetails()), sig, [0x00]), /invalid field number 0|truncated/],
    ['trailing 0xff', bytes(field(1, 2, validDetails()), sig, [0xff]), /truncated|invalid/],
    ['trailing length-delimited garbage', bytes(field(1, 2, validDetails()), sig, [0x2a, 0x10, 1, 2]), /truncated/],
    ['odd number of Ips', bytes(field(1, 2, validDetails(field(2, 2, varint(5)))), sig), /IPs should be in pairs, an odd number was found/],
    ['odd number of Subnets', bytes(field(1, 2, validDetails(field(3, 2, [...varint(5), ...varint(6), ...varint(7)]))), sig), /Subnets should be in pairs/],
    ['truncated packed varint', bytes(field(1, 2, validDetails(field(2, 2, [0x80, 0x80]))), sig), /truncated varint/],
    ['non-contiguous mask', bytes(field(1, 2, validDetails(field(2, 2, [...varint(1), ...varint(0xff00ff00)]))), sig), /non-contiguous netmask/],
    ['public key 31 bytes', bytes(field(1, 2, bytes(field(7, 2, new Uint8Array(31)))), sig), /public key is 31 bytes, expected 32/],
    ['public key 33 bytes', bytes(field(1, 2, bytes(field(7, 2, new Uint8Array(33)))), sig), /public key is 33 bytes/],
    ['issuer 5 bytes', bytes(field(1, 2, validDetails(field(9, 2, new Uint8Array(5)))), sig), /issuer is 5 bytes/],
    ['signature 63 bytes', bytes(field(1, 2, validDetails()), field(2, 2, new Uint8Array(63))), /signature is 63 bytes/],
    ['invalid UTF-8 name', bytes(field(1, 2, bytes(field(1, 2, [0xff, 0xfe]), field(7, 2, new Uint8Array(32)))), sig), /invalid UTF-8/],
    ['duplicate Name', bytes(field(1, 2, validDetails(field(1, 2, Buffer.from('x')))), sig), /appears more than once/],
    ['varint longer than 10 bytes', bytes(field(1, 2, validDetails([0x28, ...new Array(10).fill(0x80), 0x01])), sig), /varint longer than 10 bytes/],
    ['field number above 2^29 - 1', bytes(field(1, 2, validDetails()), sig, [0xf8, 0x80, 0x80, 0x80, 0x10, 0x01]), /invalid field tag/],
  ];
  for (const [what, input, expected] of cases) {
    assert.throws(() => unmarshalCertificate(input), (err: unknown) => {
      assert.ok(err instanceof CertificateError, `${what}: not a CertificateError: ${String(err)}`);
      assert.match(err.message, expected, what);
      return true;
    }, what);
  }
});

test('protobuf errors name the offending field as the CLI prints it', () => {
  const message = (input: Uint8Array) => {
    try {
      unmarshalCertificate(input);
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  assert.equal(message(bytes(field(1, 0, varint(3)), sig)), 'invalid certificate: field RawNebulaCertificate.Details (1) has wrong wire type 0');
  assert.equal(message(bytes(field(1, 2, validDetails(field(5, 2, [1]))), sig)), 'invalid certificate: field Details.NotBefore (5) has wrong wire type 2');
  assert.equal(message(bytes(field(1, 2, validDetails(field(1, 2, [0x61]))), sig)), 'invalid certificate: field Details.Name (1) appears more than once');
  assert.equal(message(bytes(field(1, 2, validDetails([0x22, 0x05, 0x61])), sig)), 'invalid certificate: truncated Details.Groups: needs 5 bytes, 1 left');
  assert.equal(message(bytes(field(1, 2, validDetails([0x28, ...new Array(9).fill(0xff), 0x7f])), sig)), 'invalid certificate: varint overflows 64 bits in Details.NotBefore');
});

test('every truncation of a real certificate is rejected', () => {
  const raw = der('host1.crt');
  for (let n = 0; n < raw.length; n++) {
    assert.throws(() => unmarshalCertificate(raw.subarray(0, n)), CertificateError, `prefix of ${n} bytes accepted`);
  }
  assert.doesNotThrow(() => unmarshalCertificate(raw));
});
