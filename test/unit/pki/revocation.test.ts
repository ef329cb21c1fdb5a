/**
 * Revocation lists: signing, the encoding, verification against the trusted CAs, tampering; the
 * node's store keeping only the newest list per CA; `mesh ca revoke` creating and extending a list.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { CAPool } from '../../../pki/ca-pool.js';
import { certificateFingerprint } from '../../../pki/cert.js';
import { encodeCertificatePem, encodeEd25519PrivateKeyPem, loadCertificate } from '../../../pki/keys.js';
import { decodeRevocationList, encodeRevocationList, parseRevocationListPem, signRevocationList, verifyRevocationList } from '../../../pki/revocation.js';
import { createCA } from '../../../pki/sign.js';
import { Revocations } from '../../../src/node/revocations.js';
import { MESH_BIN } from '../../../src/lab/binaries.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;
const ca = createCA({ name: 'ca one' });
const other = createCA({ name: 'ca two' });
const F1 = 'a'.repeat(64);
const F2 = 'b'.repeat(64);

describe('revocation lists', () => {
  it('round-trips, verifies against the signing CA only, and detects tampering', () => {
    const list = signRevocationList(ca.cert, ca.privateKey, 7, [F2, F1, F2.toUpperCase()]);
    assert.deepEqual(list.fingerprints, [F1, F2], 'sorted, lowercase, deduplicated');
    const bytes = encodeRevocationList(list);
    assert.equal(bytes.length, 4 + 32 + 8 + 4 + 2 * 32 + 64);
    const decoded = decodeRevocationList(bytes);
    assert.deepEqual(decoded, list);
    verifyRevocationList(decoded, CAPool.fromCertificates([other.cert, ca.cert]));
    assert.throws(() => verifyRevocationList(decoded, CAPool.fromCertificates([other.cert])), /not trusted here/);
    const tampered = Buffer.from(bytes);
    tampered[4 + 32 + 7]! ^= 1; // the version
    assert.throws(() => verifyRevocationList(decodeRevocationList(tampered), CAPool.fromCertificates([ca.cert])), /bad signature/);
    assert.throws(() => decodeRevocationList(bytes.subarray(0, bytes.length - 1)), /bad length/);
    assert.throws(() => decodeRevocationList(Buffer.from('nope')), /not a mesh revocation list/);
    assert.throws(() => signRevocationList(ca.cert, other.privateKey, 1, [F1]), /does not belong/);
    assert.throws(() => signRevocationList(ca.cert, ca.privateKey, 1, ['xyz']), /not a certificate fingerprint/);
  });

  it('a node keeps the newest list of each trusted CA and ignores replays and strangers', () => {
    const store = new Revocations({ log: pino({ level: 'silent' }), caPool: () => CAPool.fromCertificates([ca.cert]) });
    const v1 = encodeRevocationList(signRevocationList(ca.cert, ca.privateKey, 1, [F1]));
    const v2 = encodeRevocationList(signRevocationList(ca.cert, ca.privateKey, 2, [F1, F2]));
    assert.equal(store.receive(v2, 'peer'), true);
    assert.equal(store.receive(v1, 'peer'), false, 'an older list cannot undo a revocation');
    assert.equal(store.receive(v2, 'peer'), false, 'the same version again changes nothing');
    assert.deepEqual([...store.revoked()].sort(), [F1, F2]);
    assert.equal(store.receive(encodeRevocationList(signRevocationList(other.cert, other.privateKey, 9, [F1])), 'peer'), false);
    assert.equal(store.receive(Buffer.from('garbage'), 'peer'), false);
    assert.equal(store.encodedLists().length, 1);
  });

  it('mesh ca revoke creates the list, extends it with a newer version, and refuses another CA\'s list', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-revoke-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, 'ca', 'revoke', '--ca-crt', 'ca.crt', '--ca-key', 'ca.key', ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    writeFileSync(join(dir, 'ca.crt'), encodeCertificatePem(ca.cert));
    writeFileSync(join(dir, 'ca.key'), encodeEd25519PrivateKeyPem(ca.privateKey));
    writeFileSync(join(dir, 'host.crt'), encodeCertificatePem(ca.cert));
    const hostFingerprint = certificateFingerprint(loadCertificate(join(dir, 'host.crt')));

    let r = run('--crt', 'host.crt');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^revoked ca one \\(${hostFingerprint}\\); revocations.pem lists 1 certificate`));
    const first = parseRevocationListPem(readFileSync(join(dir, 'revocations.pem')));
    r = run('--fingerprint', F1.toUpperCase());
    assert.equal(r.code, 0, r.stderr);
    const second = parseRevocationListPem(readFileSync(join(dir, 'revocations.pem')));
    assert.ok(second.version > first.version);
    assert.deepEqual(second.fingerprints, [hostFingerprint, F1].sort());
    verifyRevocationList(second, CAPool.fromCertificates([ca.cert]));
    r = run('--fingerprint', F1);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /already revoked/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), []);

    assert.equal(run().code, 2, 'no certificate given is a usage error');
    assert.match(run('--fingerprint', 'xyz').stderr, /not a certificate fingerprint/);
    writeFileSync(join(dir, 'other.pem'), readFileSync(join(dir, 'revocations.pem')));
    writeFileSync(join(dir, 'ca.crt'), encodeCertificatePem(other.cert));
    writeFileSync(join(dir, 'ca.key'), encodeEd25519PrivateKeyPem(other.privateKey));
    r = run('--fingerprint', F2, '--out', 'other.pem');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /other\.pem is signed by another CA/);
  });
});
