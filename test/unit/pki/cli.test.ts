import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CAPool } from '../../../pki/ca-pool.js';
import { encodeCertificatePem, loadCertificate, loadEd25519PrivateKey, loadX25519PrivateKey, x25519PublicFromPrivate } from '../../../pki/keys.js';
import { formatIpNetwork } from '../../../src/net/ip.js';
import { MESH_BIN } from '../../../src/lab/binaries.js';
import { fixturePath } from './fixtures.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;

function mesh(cwd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-ca-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const mode = (p: string) => statSync(p).mode & 0o777;

test('every ca command has --help', () => {
  for (const sub of ['init', 'sign', 'keygen', 'print', 'verify']) {
    const r = mesh(tmpdir(), 'ca', sub, '--help');
    assert.equal(r.code, 0, sub);
    assert.match(r.stdout, /Usage: mesh ca /, sub);
  }
  assert.match(mesh(tmpdir(), 'ca', '--help').stdout, /init.*\n[\s\S]*sign[\s\S]*keygen[\s\S]*print[\s\S]*verify/);
});

test('init, sign, keygen, print and verify work together; files are 0600 and no temp files remain', (t) => {
  const dir = tempDir(t);
  let r = mesh(dir, 'ca', 'init', '--name', 'Mesh CA', '--duration', '48h', '--groups', 'servers,laptops', '--ips', '10.42.0.0/16', '--subnets', '192.168.0.0/16');
  assert.equal(r.code, 0, r.stderr);
  const ca = loadCertificate(join(dir, 'ca.crt'));
  assert.equal(ca.details.notAfter - ca.details.notBefore, 48 * 3600);
  assert.deepEqual(loadEd25519PrivateKey(join(dir, 'ca.key')).subarray(32), ca.details.publicKey);
  r = mesh(dir, 'ca', 'sign', '--name', 'host1', '--ip', '10.42.0.2/16', '--groups', 'servers', '--subnets', '192.168.2.0/24');
  assert.equal(r.code, 0, r.stderr);
  const host = loadCertificate(join(dir, 'host1.crt'));
  assert.deepEqual(host.details.networks.map(formatIpNetwork), ['10.42.0.2/16']);
  assert.equal(host.details.notAfter, ca.details.notAfter - 1);
  assert.deepEqual(x25519PublicFromPrivate(loadX25519PrivateKey(join(dir, 'host1.key'))), host.details.publicKey);
  r = mesh(dir, 'ca', 'keygen', '--out-key', 'k.key', '--out-pub', 'k.pub');
  assert.equal(r.code, 0, r.stderr);
  r = mesh(dir, 'ca', 'sign', '--name', 'k', '--ip', '10.42.0.3/16', '--in-pub', 'k.pub', '--out-crt', 'k.crt', '--duration', '1h30m');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(join(dir, 'k.key.new')));
  const k = loadCertificate(join(dir, 'k.crt'));
  assert.equal(k.details.notAfter - k.details.notBefore, 5400);
  assert.deepEqual(x25519PublicFromPrivate(loadX25519PrivateKey(join(dir, 'k.key'))), k.details.publicKey);
  for (const f of ['ca.crt', 'ca.key', 'host1.crt', 'host1.key', 'k.key', 'k.pub', 'k.crt']) assert.equal(mode(join(dir, f)), 0o600, f);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  CAPool.fromPem(readFileSync(join(dir, 'ca.crt'))).verify(k);

  assert.equal(mesh(dir, 'ca', 'verify', '--ca', 'ca.crt', '--crt', 'host1.crt').code, 0);
  r = mesh(dir, 'ca', 'print', '--path', 'host1.crt', '--json');
  assert.equal(r.code, 0);
  const json = JSON.parse(r.stdout) as { details: { name: string; ips: string[] }; fingerprint: string };
  assert.equal(json.details.name, 'host1');
  r = mesh(dir, 'ca', 'print', '--path', 'host1.crt');
  assert.match(r.stdout, /^NebulaCertificate \{\n\tDetails \{\n\t\tName: host1\n/);
  writeFileSync(join(dir, 'two.crt'), readFileSync(join(dir, 'ca.crt'), 'utf8') + readFileSync(join(dir, 'host1.crt'), 'utf8'));
  r = mesh(dir, 'ca', 'print', '--path', 'two.crt', '--json');
  assert.equal(r.stdout.trimEnd().split('\n').length, 2);
});

test('refuses to overwrite without --force, overwrites with it', (t) => {
  const dir = tempDir(t);
  assert.equal(mesh(dir, 'ca', 'init', '--name', 'A').code, 0);
  const before = readFileSync(join(dir, 'ca.crt'), 'utf8');
  let r = mesh(dir, 'ca', 'init', '--name', 'B');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: refusing to overwrite existing CA key: ca.key\n');
  assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), before);
  r = mesh(dir, 'ca', 'init', '--name', 'B', '--force');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(loadCertificate(join(dir, 'ca.crt')).details.name, 'B');
  assert.equal(mesh(dir, 'ca', 'sign', '--name', 'h', '--ip', '10.1.0.1/24').code, 0);
  r = mesh(dir, 'ca', 'sign', '--name', 'h', '--ip', '10.1.0.1/24');
  assert.equal(r.stderr, 'Error: refusing to overwrite existing cert: h.crt\n');
  assert.equal(mesh(dir, 'ca', 'sign', '--name', 'h', '--ip', '10.1.0.1/24', '--force').code, 0);
  r = mesh(dir, 'ca', 'keygen', '--out-key', 'h.key', '--out-pub', 'h.pub');
  assert.equal(r.stderr, 'Error: refusing to overwrite existing key: h.key\n');
  assert.ok(!existsSync(join(dir, 'h.pub')), 'nothing written when refusing');
});

test('errors are one line naming the file, exit 1, and leave nothing behind', (t) => {
  const dir = tempDir(t);
  assert.equal(mesh(dir, 'ca', 'init', '--name', 'CA', '--ips', '10.42.0.0/16', '--groups', 'servers').code, 0);
  writeFileSync(join(dir, 'garbled.crt'), '-----BEGIN NEBULA CERTIFICATE-----\nnot base64!!\n-----END NEBULA CERTIFICATE-----\n');
  const cases: [string[], RegExp][] = [
    [['ca', 'sign', '--name', 'x', '--ip', '10.43.0.1/16'], /^Error: refusing to sign, root certificate constraints violated: certificate contained an ip assignment outside the limitations of the signing ca: 10.43.0.1\/16$/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--groups', 'admins'], /group not present on the signing ca: admins$/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--duration', '100000h'], /certificate expires after signing certificate$/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--duration', '3d'], /--duration: unknown unit "d"/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1'], /^Error: invalid ip definition: /],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--ca-key', 'nope.key'], /^Error: error while reading ca-key: nope.key: no such file$/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--ca-crt', 'garbled.crt'], /^Error: error while reading ca-crt: garbled.crt: .*base64/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--ca-key', 'ca.crt'], /ca.crt: expected a CA private key \(PEM banner "NEBULA ED25519 PRIVATE KEY" or "NEBULA ECDSA P256 PRIVATE KEY"\), found "NEBULA CERTIFICATE"$/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--in-pub', 'ca.crt'], /^Error: error while reading in-pub: ca.crt: expected a public key \(PEM banner "NEBULA X25519 PUBLIC KEY" or "NEBULA P256 PUBLIC KEY"\)/],
    [['ca', 'sign', '--name', 'x', '--ip', '10.42.0.1/16', '--out-crt', 'no/such/dir/x.crt'], /no\/such\/dir\/x.crt: cannot write/],
    [['ca', 'print', '--path', 'garbled.crt'], /^Error: error while reading cert: garbled.crt: /],
    [['ca', 'print', '--path', 'ca.key'], /ca.key: expected PEM banner "NEBULA CERTIFICATE"/],
    [['ca', 'verify', '--ca', 'missing.crt', '--crt', 'ca.crt'], /missing.crt: no such file/],
    [['ca', 'init', '--name', 'y', '--out-crt', 'y.crt', '--out-key', 'y.key', '--duration', '0s'], /--duration must be greater than 0/],
    [['ca', 'init', '--name', 'y', '--out-crt', 'y.crt', '--out-key', 'y.key', '--ips', '10.0.0.0/33'], /invalid ip definition/],
  ];
  for (const [args, expected] of cases) {
    const before = readdirSync(dir).sort();
    const r = mesh(dir, ...args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), expected, args.join(' '));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.deepEqual(readdirSync(dir).sort(), before, `${args.join(' ')} left files behind`);
  }
});

test('verify: exit 0 when valid, reasons otherwise, blocklist', (t) => {
  const dir = tempDir(t);
  const v = (...args: string[]) => mesh(dir, 'ca', 'verify', ...args);
  assert.equal(v('--ca', fixturePath('ca.crt'), '--crt', fixturePath('host1.crt')).code, 0);
  assert.equal(v('--ca', fixturePath('bundle.crt'), '--crt', fixturePath('other.crt')).code, 0);
  let r = v('--ca', fixturePath('ca.crt'), '--crt', fixturePath('expired.crt'));
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `Error: ${fixturePath('expired.crt')}: certificate is expired\n`);
  r = v('--ca', fixturePath('ca.crt'), '--crt', fixturePath('other.crt'));
  assert.match(r.stderr, /other.crt: could not find ca for the certificate\n$/);
  r = v('--ca', fixturePath('ca-expired.crt'), '--crt', fixturePath('short.crt'));
  assert.match(r.stderr, /root certificate is expired/);
  const fp = (JSON.parse(readFileSync(fixturePath('host1.json'), 'utf8')) as { fingerprint: string }).fingerprint;
  r = v('--ca', fixturePath('ca.crt'), '--crt', fixturePath('host1.crt'), '--blocklist', `aa,${fp}`);
  assert.match(r.stderr, /certificate is in the block list/);
  r = v('--ca', fixturePath('host1.crt'), '--crt', fixturePath('host1.crt'));
  assert.match(r.stderr, /^Error: error while adding ca cert to pool: .*host1.crt: host1: certificate is not a CA\n$/);
  const host1 = loadCertificate(fixturePath('host1.crt'));
  writeFileSync(join(dir, 'tampered.crt'), encodeCertificatePem({ ...host1, details: { ...host1.details, name: 'host9' } }));
  r = v('--ca', fixturePath('ca.crt'), '--crt', 'tampered.crt');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: tampered.crt: certificate signature did not match\n');
});

