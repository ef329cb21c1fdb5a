import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { certificateFingerprint } from '../../../pki/cert.js';
import { joinHost, renewalProof, renewHost, type Issuer } from '../../../pki/enroll-issue.js';
import { checkToken, createToken, decodeToken, encodeToken, nameFor, readTokens, writeTokens, type TokenOptions } from '../../../pki/enroll-token.js';
import { generateX25519KeyPair, x25519PublicFromPrivate } from '../../../pki/keys.js';
import { readLedgerState, recordAddress, withLedger } from '../../../pki/subnet-ledger.js';
import { makeCA } from '../../../src/lab/pki.js';
import { parseCidr, parseIp } from '../../../src/net/ipv4.js';
import { formatIpNetwork } from '../../../src/net/ip.js';

const NOW = new Date();
const options = (o: Partial<TokenOptions> = {}): TokenOptions => ({ uses: 1, ttlMs: 3600_000, groups: [], name: null, namePrefix: null, subnet: 'none', ...o });

test('a token string round-trips; anything else is "not a mesh join token"', () => {
  const { id, secret } = createToken(options(), NOW);
  const contents = { server: '192.0.2.1:4243', pin: 'ab'.repeat(32), id, secret };
  assert.deepEqual(decodeToken(` ${encodeToken(contents)}\n`), contents);
  for (const bad of ['', 'hello', 'meshjoin1.', 'meshjoin1.e30', `meshjoin1.${Buffer.from(JSON.stringify({ ...contents, s: 'nohost' })).toString('base64url')}`]) {
    assert.throws(() => decodeToken(bad), /not a mesh join token/, bad);
  }
});

test('checkToken refuses unknown, tampered, revoked, expired and used-up tokens, each with its reason', () => {
  const { record, id, secret } = createToken(options({ uses: 2 }), NOW);
  assert.equal(checkToken([record], id, secret, NOW), record);
  assert.equal(JSON.stringify(record).includes(secret), false, 'only a hash of the secret is kept');
  assert.throws(() => checkToken([record], id, `${secret.slice(0, -1)}x`, NOW), /not known to this CA/);
  assert.throws(() => checkToken([record], 'ffffffffffffffff', secret, NOW), /not known to this CA/);
  assert.throws(() => checkToken([{ ...record, revoked: true }], id, secret, NOW), /was revoked/);
  assert.throws(() => checkToken([record], id, secret, new Date(NOW.getTime() + 3600_000)), /expired at/);
  assert.throws(() => checkToken([{ ...record, used: 2 }], id, secret, NOW), /used up \(2 of 2 uses\)/);
});

test('nameFor: a fixed name, a prefix, the host name as fallback, and invalid names', () => {
  const { record } = createToken(options(), NOW);
  assert.equal(nameFor(record, 'web1', 'box'), 'web1');
  assert.equal(nameFor(record, null, 'box'), 'box');
  assert.throws(() => nameFor(record, null, null), /a name is required/);
  assert.throws(() => nameFor(record, 'bad name', null), /invalid host name/);
  assert.throws(() => nameFor({ ...record, namePrefix: 'web' }, 'db1', null), /names starting with "web"/);
  assert.equal(nameFor({ ...record, name: 'fixed' }, null, 'box'), 'fixed');
  assert.throws(() => nameFor({ ...record, name: 'fixed' }, 'other', null), /for the name "fixed"/);
  assert.throws(() => createToken(options({ name: 'x', uses: 2 }), NOW), /--name-prefix/);
  assert.throws(() => createToken(options({ uses: 0 }), NOW), /--uses/);
});

function withIssuer(fn: (issuer: Issuer, dir: string) => void, caSubnets = ['10.201.0.0/16']) {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-enroll-'));
    try {
      const ca = makeCA('enroll', { ips: ['10.43.0.0/16'], subnets: caSubnets, hours: 100, now: new Date(NOW.getTime() - 60_000) });
      fn(
        {
          caCert: ca.cert,
          caKey: ca.key,
          ledgerPath: join(dir, 'ca.subnets.json'),
          tokensPath: join(dir, 'ca.tokens.json'),
          issuedLogPath: join(dir, 'ca.issued.log'),
          network: parseCidr('10.43.0.0/16'),
          reserved: [parseIp('10.43.0.1')],
          defaultGroups: ['default'],
          durationNs: 48n * 3600n * 1_000_000_000n,
        },
        dir,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function addToken(issuer: Issuer, o: Partial<TokenOptions>) {
  const token = createToken(options(o), NOW);
  writeTokens(issuer.tokensPath, [...readTokens(issuer.tokensPath), token.record]);
  return token;
}

test('joinHost: next free IP past reserved and ledger entries, a subnet when the token says so, uses counted, logged', withIssuer((issuer) => {
  withLedger(issuer.ledgerPath, (state) => ({ state: { ...state, addresses: recordAddress(state.addresses, 'signed', parseIp('10.43.0.2'), NOW) }, result: undefined }));
  const { id, secret } = addToken(issuer, { uses: 2, subnet: 'auto', groups: ['web'] });
  const key = generateX25519KeyPair();
  const a = joinHost(issuer, { tokenId: id, secret, name: 'a', hostName: null, publicKey: key.publicKey, wantSubnet: true }, NOW);
  assert.equal(formatIpNetwork(a.details.networks[0]!), '10.43.0.3/16');
  assert.equal(formatIpNetwork(a.details.unsafeNetworks[0]!), '10.201.0.0/24');
  assert.deepEqual(a.details.groups, ['web']);
  assert.equal(a.details.notAfter, Math.floor(NOW.getTime() / 1000) + 48 * 3600);
  // A service duration beyond the CA's end is cut to 1 s before it, as `mesh ca sign` does.
  const capped = joinHost({ ...issuer, durationNs: 1000n * 3600n * 1_000_000_000n }, { tokenId: id, secret, name: 'a', hostName: null, publicKey: key.publicKey, wantSubnet: false }, NOW);
  assert.equal(capped.details.notAfter, issuer.caCert.details.notAfter - 1);
  assert.deepEqual([capped.details.networks, capped.details.unsafeNetworks], [a.details.networks, a.details.unsafeNetworks], 'the same name again keeps its IP and subnet');
  assert.throws(() => joinHost(issuer, { tokenId: id, secret, name: 'b', hostName: null, publicKey: key.publicKey, wantSubnet: false }, NOW), /used up/);
  // A name held by another host (here signed with `mesh ca sign`) needs a token made for it.
  const any = addToken(issuer, { uses: 2 });
  assert.throws(() => joinHost(issuer, { tokenId: any.id, secret: any.secret, name: 'signed', hostName: null, publicKey: key.publicKey, wantSubnet: false }, NOW), /the name "signed" is taken/);
  assert.throws(() => joinHost(issuer, { tokenId: any.id, secret: any.secret, name: 'a', hostName: null, publicKey: key.publicKey, wantSubnet: false }, NOW), /the name "a" is taken/);
  const forSigned = addToken(issuer, { name: 'signed' });
  const resigned = joinHost(issuer, { tokenId: forSigned.id, secret: forSigned.secret, name: null, hostName: 'box', publicKey: key.publicKey, wantSubnet: false }, NOW);
  assert.equal(formatIpNetwork(resigned.details.networks[0]!), '10.43.0.2/16');
  const log = readFileSync(issuer.issuedLogPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { fingerprint: string });
  assert.deepEqual(log.map((l) => l.fingerprint), [certificateFingerprint(a), certificateFingerprint(capped), certificateFingerprint(resigned)]);
}));

test('joinHost: a refused join (name outside the prefix, subnet not allowed) changes neither ledger nor tokens', withIssuer((issuer) => {
  const { id, secret } = addToken(issuer, { namePrefix: 'web' });
  const key = generateX25519KeyPair();
  const tokensBefore = readFileSync(issuer.tokensPath, 'utf8');
  assert.throws(() => joinHost(issuer, { tokenId: id, secret, name: 'db1', hostName: null, publicKey: key.publicKey, wantSubnet: false }, NOW), /names starting with "web"/);
  assert.throws(() => joinHost(issuer, { tokenId: id, secret, name: 'web1', hostName: null, publicKey: key.publicKey, wantSubnet: true }, NOW), /does not hand out container subnets/);
  assert.equal(readFileSync(issuer.tokensPath, 'utf8'), tokensBefore);
  assert.equal(existsSync(issuer.ledgerPath) ? readLedgerState(issuer.ledgerPath).addresses.length : 0, 0);
}));

test('renewHost: the same name, IP, subnets and groups for the holder of the key; refuses other keys, stale proofs and released IPs', withIssuer((issuer) => {
  const service = generateX25519KeyPair();
  const { id, secret } = addToken(issuer, { subnet: 'auto' });
  const host = generateX25519KeyPair();
  const cert = joinHost(issuer, { tokenId: id, secret, name: 'a', hostName: null, publicKey: host.publicKey, wantSubnet: false }, NOW);
  const servicePublic = x25519PublicFromPrivate(service.privateKey);
  const later = new Date(NOW.getTime() + 60_000);
  const proof = renewalProof(host.privateKey, servicePublic, cert, later.getTime());
  const renewed = renewHost(issuer, service.privateKey, { cert, timestamp: later.getTime(), proof }, later);
  assert.deepEqual([renewed.details.name, renewed.details.networks, renewed.details.unsafeNetworks, renewed.details.groups], [cert.details.name, cert.details.networks, cert.details.unsafeNetworks, cert.details.groups]);
  assert.ok(renewed.details.notAfter > cert.details.notAfter);
  const intruder = generateX25519KeyPair();
  const forged = renewalProof(intruder.privateKey, servicePublic, cert, later.getTime());
  assert.throws(() => renewHost(issuer, service.privateKey, { cert, timestamp: later.getTime(), proof: forged }, later), /does not match the certificate's key/);
  assert.throws(() => renewHost(issuer, service.privateKey, { cert, timestamp: NOW.getTime() - 600_000, proof: renewalProof(host.privateKey, servicePublic, cert, NOW.getTime() - 600_000) }, later), /stale/);
  withLedger(issuer.ledgerPath, (state) => ({ state: { ...state, addresses: state.addresses.filter((e) => e.name !== 'a') }, result: undefined }));
  assert.throws(() => renewHost(issuer, service.privateKey, { cert, timestamp: later.getTime(), proof }, later), /no longer gives it 10\.43\.0\.2/);
}));
