import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertificateError } from '../../../pki/cert.js';
import { CERT_BANNER, decodePem, decodePemBlocks, encodePem, X25519_PRIVATE_KEY_BANNER } from '../../../pki/pem.js';
import {
  encodeEd25519PrivateKeyPem,
  encodeEd25519PublicKeyPem,
  encodeX25519PrivateKeyPem,
  encodeX25519PublicKeyPem,
  generateEd25519KeyPair,
  generateX25519KeyPair,
  loadCAPool,
  loadCertificate,
  loadCertificates,
  loadEd25519PrivateKey,
  loadX25519PrivateKey,
  loadX25519PublicKey,
  parseEd25519PublicKeyPem,
  x25519PublicFromPrivate,
} from '../../../pki/keys.js';
import { fixturePath, fixtureText } from './fixtures.js';

test('PEM encoding is byte-identical to the files nebula-cert writes', () => {
  for (const [file, banner] of [
    ['ca.crt', 'NEBULA CERTIFICATE'], ['host1.crt', 'NEBULA CERTIFICATE'], ['ca.key', 'NEBULA ED25519 PRIVATE KEY'],
    ['host1.key', 'NEBULA X25519 PRIVATE KEY'], ['host2.pub', 'NEBULA X25519 PUBLIC KEY'],
  ] as const) {
    const text = fixtureText(file);
    assert.equal(encodePem(banner, decodePem(text, banner)), text, file);
  }
});

test('PEM decoding: text before BEGIN is skipped, several blocks, CRLF, trailing text reported', () => {
  const ca = fixtureText('ca.crt');
  const ca2 = fixtureText('ca2.crt');
  const { blocks, trailing } = decodePemBlocks(`# my CAs\nsome text\n${ca}between\n${ca2.replace(/\n/g, '\r\n')}  \n`);
  assert.equal(blocks.length, 2);
  assert.deepEqual(blocks[0]!.bytes, decodePem(ca, CERT_BANNER));
  assert.deepEqual(blocks[1]!.bytes, decodePem(ca2, CERT_BANNER));
  assert.equal(trailing.trim(), '');
  assert.equal(decodePemBlocks(`${ca}garbage`).trailing, 'garbage');
});

test('garbled or truncated PEM gives a clear error', () => {
  const ca = fixtureText('ca.crt');
  const lines = ca.split('\n');
  const cases: [string, string, RegExp][] = [
    ['BEGIN line only', '-----BEGIN NEBULA CERTIFICATE-----\n', /no END line/],
    ['END line missing', lines.slice(0, 3).join('\n'), /no END line/],
    ['invalid base64 character', [lines[0], `${lines[1]!.slice(0, 20)}!${lines[1]!.slice(21)}`, ...lines.slice(2)].join('\n'), /valid base64/],
    ['base64 length not a multiple of 4', ca.replace(/==\n/, '=\n'), /valid base64/],
    ['a line dropped (truncated data)', [lines[0], lines[1], lines[4], lines[5]].join('\n'), /truncated|invalid|bytes/],
    ['wrong banner', encodePem('NEBULA X25519 PUBLIC KEY', new Uint8Array(32)), /expected a certificate/],
  ];
  for (const [what, text, expected] of cases) {
    assert.throws(() => loadCertificate(text), (err: unknown) => {
      assert.ok(err instanceof CertificateError, what);
      assert.match(err.message, /^inline PEM: /, what);
      assert.match(err.message, expected, `${what}: ${err.message}`);
      return true;
    });
  }
});

test('keys: generated pairs are consistent and round-trip through PEM', () => {
  const x = generateX25519KeyPair();
  assert.deepEqual(x25519PublicFromPrivate(x.privateKey), x.publicKey);
  assert.deepEqual(loadX25519PrivateKey(encodeX25519PrivateKeyPem(x.privateKey)), x.privateKey);
  assert.deepEqual(loadX25519PublicKey(encodeX25519PublicKeyPem(x.publicKey)), x.publicKey);
  const e = generateEd25519KeyPair();
  assert.equal(e.privateKey.length, 64);
  assert.deepEqual(e.privateKey.subarray(32), e.publicKey);
  assert.deepEqual(loadEd25519PrivateKey(encodeEd25519PrivateKeyPem(e.privateKey)), e.privateKey);
  assert.deepEqual(parseEd25519PublicKeyPem(encodeEd25519PublicKeyPem(e.publicKey)), e.publicKey);
});

test('loaders name the file in every error; wrong key lengths and corrupt keys are rejected', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const put = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const expectFileError = (fn: () => unknown, path: string, expected: RegExp) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof CertificateError);
      assert.ok(err.message.startsWith(`${path}: `), err.message);
      assert.match(err.message, expected);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    });

  const noPem = put('nopem.crt', 'hello world\n');
  expectFileError(() => loadCertificate(noPem), noPem, /did not contain a valid PEM/);
  const missing = join(dir, 'missing.crt');
  expectFileError(() => loadCertificate(missing), missing, /no such file/);
  expectFileError(() => loadCertificate(dir), dir, /directory/);
  const shortKey = put('short.key', encodePem(X25519_PRIVATE_KEY_BANNER, new Uint8Array(31)));
  expectFileError(() => loadX25519PrivateKey(shortKey), shortKey, /key was not 32 bytes/);
  const longPub = put('long.pub', encodePem('NEBULA X25519 PUBLIC KEY', new Uint8Array(33)));
  expectFileError(() => loadX25519PublicKey(longPub), longPub, /key was not 32 bytes/);
  const caKeyText = fixtureText('ca.key');
  const shortCaKey = put('short-ca.key', encodePem('NEBULA ED25519 PRIVATE KEY', new Uint8Array(32)));
  expectFileError(() => loadEd25519PrivateKey(shortCaKey), shortCaKey, /key was not 64 bytes/);
  const raw = decodePem(caKeyText, 'NEBULA ED25519 PRIVATE KEY');
  raw[40]! ^= 1;
  const corrupt = put('corrupt-ca.key', encodePem('NEBULA ED25519 PRIVATE KEY', raw));
  expectFileError(() => loadEd25519PrivateKey(corrupt), corrupt, /public half does not match/);
  const keyAsCert = fixturePath('host1.key');
  expectFileError(() => loadCertificate(keyAsCert), keyAsCert, /found "NEBULA X25519 PRIVATE KEY"/);
  const certAsKey = fixturePath('host1.crt');
  expectFileError(() => loadX25519PrivateKey(certAsKey), certAsKey, /expected a X25519 private key/);
  const garbage = put('garbage.crt', `${fixtureText('host1.crt')}trailing junk\n`);
  expectFileError(() => loadCertificates(garbage), garbage, /unexpected data after the last PEM block/);
  const der = decodePem(fixtureText('host1.crt'), CERT_BANNER);
  const trailing = put('trailing.crt', encodePem(CERT_BANNER, Uint8Array.from([...der, 0x00])));
  expectFileError(() => loadCertificate(trailing), trailing, /invalid certificate/);
  const wireType = Uint8Array.from(der);
  wireType[0] = 0x08; // field 1 as varint
  const wrongWire = put('wire.crt', encodePem(CERT_BANNER, wireType));
  expectFileError(() => loadCertificate(wrongWire), wrongWire, /wrong wire type/);
  const notCa = fixturePath('host1.crt');
  expectFileError(() => loadCAPool(notCa), notCa, /host1: certificate is not a CA/);
  const sig = Uint8Array.from(decodePem(fixtureText('ca.crt'), CERT_BANNER));
  sig[sig.length - 1]! ^= 1;
  const badSelfSig = put('badsig-ca.crt', encodePem(CERT_BANNER, sig));
  expectFileError(() => loadCAPool(badSelfSig), badSelfSig, /Test CA: certificate is not self-signed/);
});

test('loaders accept inline PEM as well as paths', () => {
  const pem = readFileSync(fixturePath('bundle.crt'), 'utf8');
  assert.equal(loadCAPool(pem).cas.length, 2);
  assert.equal(loadCAPool(fixturePath('bundle.crt')).cas.length, 2);
  assert.equal(loadCertificate(fixtureText('host1.crt')).details.name, 'host1');
  assert.equal(loadX25519PrivateKey(fixtureText('host1.key')).length, 32);
});
