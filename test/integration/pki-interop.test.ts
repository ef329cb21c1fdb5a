/**
 * Interop with the reference nebula-cert 1.6.1: files written by `mesh ca` are read and accepted
 * by nebula-cert, and the other way round. Skips when nebula-cert is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MESH_BIN } from '../../src/lab/binaries.js';
import { skipTest } from '../helpers/skip.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;

function findNebulaCert(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/bin', '/usr/local/bin'])) {
    const p = join(dir, 'nebula-cert');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}
const NEBULA_CERT = findNebulaCert();

interface Run { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], cwd: string, tz = 'UTC'): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, TZ: tz }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const mesh = (cwd: string, ...args: string[]) => run(process.execPath, [BIN, ...args], cwd);
const nc = (cwd: string, ...args: string[]) => run(NEBULA_CERT!, args, cwd);

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}${r.stdout}`);
  return r;
}

/** Sets up a temp dir, or skips when nebula-cert is missing. */
function setup(t: TestContext): string | undefined {
  if (!NEBULA_CERT) {
    skipTest(t, 'nebula-cert not installed');
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mesh-pki-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('nebula-cert verify accepts certs signed by mesh ca sign with a mesh ca init CA', (t) => {
  const dir = setup(t);
  if (!dir) return;
  ok(mesh(dir, 'ca', 'init', '--name', 'Mesh CA', '--groups', 'servers,laptops', '--ips', '10.42.0.0/16', '--subnets', '192.168.0.0/16'), 'mesh ca init');
  ok(mesh(dir, 'ca', 'sign', '--name', 'host1', '--ip', '10.42.0.2/16', '--groups', 'servers,laptops', '--subnets', '192.168.2.0/24'), 'mesh ca sign');
  ok(mesh(dir, 'ca', 'sign', '--name', 'host2', '--ip', '10.42.7.9/24', '--duration', '2h'), 'mesh ca sign --duration');
  ok(nc(dir, 'verify', '-ca', 'ca.crt', '-crt', 'host1.crt'), 'nebula-cert verify host1');
  ok(nc(dir, 'verify', '-ca', 'ca.crt', '-crt', 'host2.crt'), 'nebula-cert verify host2');
  // And nebula-cert rejects what it should: a cert from another mesh CA.
  ok(mesh(dir, 'ca', 'init', '--name', 'Other', '--out-crt', 'o.crt', '--out-key', 'o.key'), 'second CA');
  const wrong = nc(dir, 'verify', '-ca', 'o.crt', '-crt', 'host1.crt');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /could not find ca for the certificate/);
});

test('nebula-cert sign works with a mesh CA key; mesh ca verify accepts certs from nebula-cert', (t) => {
  const dir = setup(t);
  if (!dir) return;
  ok(mesh(dir, 'ca', 'init', '--name', 'Mesh CA', '--ips', '10.42.0.0/16'), 'mesh ca init');
  ok(nc(dir, 'sign', '-name', 'nhost', '-ip', '10.42.0.5/24', '-groups', 'a,b'), 'nebula-cert sign with the mesh CA key');
  ok(mesh(dir, 'ca', 'verify', '--ca', 'ca.crt', '--crt', 'nhost.crt'), 'mesh ca verify');
  // A CA made by nebula-cert, and a host cert from it.
  ok(nc(dir, 'ca', '-name', 'Nebula CA', '-out-crt', 'n-ca.crt', '-out-key', 'n-ca.key', '-groups', 'servers'), 'nebula-cert ca');
  ok(nc(dir, 'sign', '-ca-crt', 'n-ca.crt', '-ca-key', 'n-ca.key', '-name', 'n2', '-ip', '10.1.0.2/16', '-groups', 'servers'), 'nebula-cert sign');
  ok(mesh(dir, 'ca', 'verify', '--ca', 'n-ca.crt', '--crt', 'n2.crt'), 'mesh ca verify of a nebula-cert CA');
  const wrong = mesh(dir, 'ca', 'verify', '--ca', 'ca.crt', '--crt', 'n2.crt');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /could not find ca for the certificate/);
  // mesh ca sign with a nebula-cert CA; nebula-cert refuses (and mesh too) outside the CA's groups.
  ok(mesh(dir, 'ca', 'sign', '--ca-crt', 'n-ca.crt', '--ca-key', 'n-ca.key', '--name', 'm3', '--ip', '10.1.0.3/16', '--groups', 'servers'), 'mesh ca sign with a nebula CA');
  ok(nc(dir, 'verify', '-ca', 'n-ca.crt', '-crt', 'm3.crt'), 'nebula-cert verify m3');
  const refused = mesh(dir, 'ca', 'sign', '--ca-crt', 'n-ca.crt', '--ca-key', 'n-ca.key', '--name', 'm4', '--ip', '10.1.0.4/16', '--groups', 'admins');
  assert.equal(refused.code, 1);
  assert.equal(nc(dir, 'sign', '-ca-crt', 'n-ca.crt', '-ca-key', 'n-ca.key', '-name', 'm4', '-ip', '10.1.0.4/16', '-groups', 'admins').code, 1);
});

test('mesh ca print --json and nebula-cert print -json agree on every field', (t) => {
  const dir = setup(t);
  if (!dir) return;
  ok(mesh(dir, 'ca', 'init', '--name', 'Mesh <CA> & co', '--groups', 'servers,laptops', '--ips', '10.42.3.4/16,10.50.0.0/16', '--subnets', '192.168.50.7/24'), 'mesh ca init');
  ok(mesh(dir, 'ca', 'sign', '--name', 'host1', '--ip', '10.42.0.2/16', '--groups', 'servers', '--subnets', '192.168.50.128/25'), 'mesh ca sign');
  ok(nc(dir, 'sign', '-name', 'nhost', '-ip', '10.42.0.5/24'), 'nebula-cert sign');
  for (const file of ['ca.crt', 'host1.crt', 'nhost.crt']) {
    for (const tz of ['UTC', 'Europe/Berlin', 'America/New_York']) {
      const ours = run(process.execPath, [BIN, 'ca', 'print', '--path', file, '--json'], dir, tz);
      const theirs = run(NEBULA_CERT!, ['print', '-json', '-path', file], dir, tz);
      ok(ours, `mesh ca print ${file}`);
      ok(theirs, `nebula-cert print ${file}`);
      const a = JSON.parse(ours.stdout) as Record<string, unknown>;
      const b = JSON.parse(theirs.stdout) as Record<string, unknown>;
      assert.deepEqual(a, b, `${file} (${tz})`);
      assert.equal(ours.stdout, theirs.stdout, `${file} (${tz}): byte-identical output`);
    }
    const text = run(process.execPath, [BIN, 'ca', 'print', '--path', file], dir);
    assert.equal(text.stdout, nc(dir, 'print', '-path', file).stdout, `${file}: text form`);
  }
  // Several certificates in one file.
  const both = readFileSync(join(dir, 'ca.crt'), 'utf8') + readFileSync(join(dir, 'host1.crt'), 'utf8');
  const bundle = join(dir, 'both.crt');
  spawnSync('sh', ['-c', `cat > ${JSON.stringify(bundle)}`], { input: both });
  assert.equal(mesh(dir, 'ca', 'print', '--path', 'both.crt', '--json').stdout, nc(dir, 'print', '-json', '-path', 'both.crt').stdout);
});

test('a mesh ca keygen public key is signed by nebula-cert -in-pub', (t) => {
  const dir = setup(t);
  if (!dir) return;
  ok(nc(dir, 'ca', '-name', 'Nebula CA'), 'nebula-cert ca');
  ok(mesh(dir, 'ca', 'keygen', '--out-key', 'k.key', '--out-pub', 'k.pub'), 'mesh ca keygen');
  ok(nc(dir, 'sign', '-name', 'k', '-ip', '10.9.0.1/24', '-in-pub', 'k.pub', '-out-crt', 'k.crt'), 'nebula-cert sign -in-pub');
  ok(nc(dir, 'verify', '-ca', 'ca.crt', '-crt', 'k.crt'), 'nebula-cert verify');
  ok(mesh(dir, 'ca', 'verify', '--ca', 'ca.crt', '--crt', 'k.crt'), 'mesh ca verify');
  // The certificate's public key is the one derived from mesh's private key.
  const json = JSON.parse(ok(nc(dir, 'print', '-json', '-path', 'k.crt'), 'print').stdout) as { details: { publicKey: string } };
  const pubPem = readFileSync(join(dir, 'k.pub'), 'utf8');
  const pub = Buffer.from(pubPem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), 'base64');
  assert.equal(json.details.publicKey, pub.toString('hex'));
  // And the reverse: a nebula-cert keygen public key signed by mesh, verified by nebula-cert.
  ok(nc(dir, 'keygen', '-out-key', 'n.key', '-out-pub', 'n.pub'), 'nebula-cert keygen');
  ok(mesh(dir, 'ca', 'sign', '--name', 'n', '--ip', '10.9.0.2/24', '--in-pub', 'n.pub', '--out-crt', 'n.crt'), 'mesh ca sign --in-pub');
  ok(nc(dir, 'verify', '-ca', 'ca.crt', '-crt', 'n.crt'), 'nebula-cert verify of mesh-signed cert');
});

test('certificates violating CA constraints (crafted by mesh, past its own checks) are rejected by both', async (t) => {
  const dir = setup(t);
  if (!dir) return;
  const { signDetails, certificateFingerprint } = await import('../../pki/cert.js');
  const { encodeCertificatePem, loadCertificate, loadEd25519PrivateKey, generateX25519KeyPair } = await import('../../pki/keys.js');
  const { parseIpNetwork } = await import('../../src/net/ip.js');
  const { writeFileSync } = await import('node:fs');
  ok(mesh(dir, 'ca', 'init', '--name', 'CA', '--groups', 'servers', '--ips', '10.42.0.0/16'), 'mesh ca init');
  const ca = loadCertificate(join(dir, 'ca.crt'));
  const caKey = loadEd25519PrivateKey(join(dir, 'ca.key'));
  const base = {
    version: 1 as const, name: 'bad', networks: [parseIpNetwork('10.42.0.9/24')], unsafeNetworks: [], groups: ['servers'], curve: 'CURVE25519' as const, notBefore: ca.details.notBefore,
    notAfter: ca.details.notAfter, publicKey: generateX25519KeyPair().publicKey, isCA: false, issuer: certificateFingerprint(ca),
  };
  const variants: [string, object, RegExp][] = [
    ['group', { groups: ['admins'] }, /group not present on the signing ca: admins/],
    ['ip', { networks: [parseIpNetwork('10.99.0.1/24')] }, /ip assignment outside the limitations of the signing ca: 10.99.0.1\/24/],
    ['mask', { networks: [parseIpNetwork('10.42.0.1/8')] }, /ip assignment outside/],
    ['after', { notAfter: ca.details.notAfter + 10 }, /certificate expires after signing certificate/],
  ];
  for (const [name, overrides, reason] of variants) {
    writeFileSync(join(dir, `${name}.crt`), encodeCertificatePem(signDetails({ ...base, ...overrides }, caKey)));
    const ours = mesh(dir, 'ca', 'verify', '--ca', 'ca.crt', '--crt', `${name}.crt`);
    const theirs = nc(dir, 'verify', '-ca', 'ca.crt', '-crt', `${name}.crt`);
    assert.equal(ours.code, 1, name);
    assert.equal(theirs.code, 1, name);
    assert.match(ours.stderr, reason, name);
    assert.match(theirs.stderr, reason, `nebula-cert: ${name}`);
  }
  writeFileSync(join(dir, 'good.crt'), encodeCertificatePem(signDetails(base, caKey)));
  ok(nc(dir, 'verify', '-ca', 'ca.crt', '-crt', 'good.crt'), 'control: the unmodified crafted cert is valid');
});
