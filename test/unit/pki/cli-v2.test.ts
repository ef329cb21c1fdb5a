/**
 * `mesh ca` with nebula-cert 1.10's flags: v2 CAs and hosts with IPv4 and IPv6 networks, unsafe
 * networks (auto from the ledger too), P256, CA files holding v1 and v2 CAs, print -json.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CAPool } from '../../../pki/ca-pool.js';
import { certificateFingerprint } from '../../../pki/cert.js';
import { loadCertificate, loadCertificates } from '../../../pki/keys.js';
import { formatIpNetwork } from '../../../src/net/ip.js';
import { MESH_BIN } from '../../../src/lab/binaries.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;

function mesh(cwd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { code: number; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-ca-v2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('--help of init, sign and keygen names the nebula-cert 1.10 flags beside the old ones', () => {
  const help = (sub: string) => mesh(tmpdir(), 'ca', sub, '--help').stdout;
  for (const flag of ['--version', '--curve', '--networks', '--unsafe-networks', '--ips', '--subnets']) assert.ok(help('init').includes(flag), `init ${flag}`);
  for (const flag of ['--version', '--networks', '--unsafe-networks', '--ip', '--subnets', '--in-pub']) assert.ok(help('sign').includes(flag), `sign ${flag}`);
  assert.ok(help('keygen').includes('--curve'));
  assert.match(mesh(tmpdir(), '--version').stdout, /^\d+\.\d+\.\d+\n$/, 'mesh --version still prints the version');
});

test('a v2 CA signs hosts with IPv4 and IPv6 networks and auto unsafe networks; they verify; print is nebula-cert 1.10\'s', (t) => {
  const dir = tempDir(t);
  ok(mesh(dir, 'ca', 'init', '--name', 'V2 CA', '--version', '2', '--networks', '10.42.0.0/16, fd42::/48', '--unsafe-networks', '10.200.0.0/16', '--groups', 'servers'), 'init');
  assert.match(readFileSync(join(dir, 'ca.crt'), 'utf8'), /^-----BEGIN NEBULA CERTIFICATE V2-----\n/);
  assert.match(readFileSync(join(dir, 'ca.key'), 'utf8'), /^-----BEGIN NEBULA ED25519 PRIVATE KEY-----\n/);
  const ca = loadCertificate(join(dir, 'ca.crt'));
  assert.deepEqual([ca.details.version, ca.details.networks.map(formatIpNetwork)], [2, ['10.42.0.0/16', 'fd42::/48']]);

  let r = mesh(dir, 'ca', 'sign', '--name', 'web', '--networks', 'fd42::2/64,10.42.0.2/16', '--unsafe-networks', 'auto', '--groups', 'servers');
  ok(r, 'sign --unsafe-networks auto');
  assert.match(r.stdout, /web: subnet 10\.200\.0\.0\/24 \(recorded in .*ca\.subnets\.json\)/);
  ok(mesh(dir, 'ca', 'sign', '--name', 'db', '--networks', '10.42.0.3/16', '--subnets', 'auto'), 'sign --subnets auto (the 1.6 name)');
  const web = loadCertificate(join(dir, 'web.crt'));
  const db = loadCertificate(join(dir, 'db.crt'));
  assert.equal(web.details.version, 2, 'the CA\'s version by default');
  assert.deepEqual(web.details.networks.map(formatIpNetwork), ['10.42.0.2/16', 'fd42::2/64']);
  assert.deepEqual(web.details.unsafeNetworks.map(formatIpNetwork), ['10.200.0.0/24']);
  assert.deepEqual(db.details.unsafeNetworks.map(formatIpNetwork), ['10.200.1.0/24'], 'the ledger hands out the next /24');
  const ledger = JSON.parse(readFileSync(join(dir, 'ca.subnets.json'), 'utf8')) as { allocations: { subnet: string; name: string }[]; addresses: { ip: string; name: string }[] };
  assert.deepEqual(ledger.allocations.map((a) => `${a.name}=${a.subnet}`), ['web=10.200.0.0/24', 'db=10.200.1.0/24']);
  assert.deepEqual(ledger.addresses.map((a) => `${a.name}=${a.ip}`), ['web=10.42.0.2', 'db=10.42.0.3']);
  ok(mesh(dir, 'ca', 'verify', '--ca', 'ca.crt', '--crt', 'web.crt'), 'verify');
  assert.equal(web.details.issuer, certificateFingerprint(ca));

  r = mesh(dir, 'ca', 'print', '--path', 'web.crt', '--json');
  ok(r, 'print --json');
  assert.match(r.stdout, /^\[\{"curve":"CURVE25519","details":\{"groups":\["servers"\],"isCa":false,"issuer":"[0-9a-f]{64}","name":"web","networks":\["10\.42\.0\.2\/16","fd42::2\/64"\],"notAfter":"[0-9T:-]+Z","notBefore":"[0-9T:-]+Z","unsafeNetworks":\["10\.200\.0\.0\/24"\]\},"fingerprint":"[0-9a-f]{64}","publicKey":"[0-9a-f]{64}","signature":"[0-9a-f]{128}","version":2\}\]\n$/);
  r = mesh(dir, 'ca', 'print', '--path', 'web.crt');
  assert.match(r.stdout, /^\{\n\t"curve": "CURVE25519",\n\t"details": \{\n\t\t"groups": \[\n\t\t\t"servers"\n\t\t\],\n/);
  assert.match(r.stdout, /\n\t"version": 2\n\}\n$/);

  const refused: [string[], RegExp][] = [
    [['ca', 'sign', '--name', 'x', '--networks', '10.43.0.2/16'], /network assignment outside the limitations of the signing ca: 10\.43\.0\.2\/16$/],
    [['ca', 'sign', '--name', 'x', '--networks', 'fd42::9/64', '--unsafe-networks', '10.200.9.0/24'], /IPv4 unsafe networks require an IPv4 address assignment: 10\.200\.9\.0\/24$/],
    [['ca', 'sign', '--name', 'x', '--networks', '10.42.0.9/16', '--unsafe-networks', '10.200.0.0/25'], /overlaps 10\.200\.0\.0\/24, handed to "web"/],
    [['ca', 'sign', '--name', 'x', '--networks', '10.42.0.9/16,10.42.0.9/16'], /duplicate network detected: 10\.42\.0\.9\/16$/],
    [['ca', 'sign', '--name', 'x'], /--networks \(or --ip\) is required/],
    [['ca', 'sign', '--name', 'x', '--networks', '10.42.0.9/16', '--version', '3'], /--version must be either 1 or 2$/],
    [['ca', 'init', '--name', 'y', '--out-crt', 'y.crt', '--out-key', 'y.key', '--networks', 'fd00::/8'], /invalid --networks definition: v1 certificates can only be ipv4, have fd00::\/8$/],
    [['ca', 'init', '--name', 'y', '--out-crt', 'y.crt', '--out-key', 'y.key', '--curve', 'P256'], /--curve P256 needs --version 2/],
    [['ca', 'init', '--name', 'y', '--out-crt', 'y.crt', '--out-key', 'y.key', '--curve', 'P384', '--version', '2'], /invalid curve: P384/],
  ];
  for (const [args, expected] of refused) {
    const res = mesh(dir, ...args);
    assert.notEqual(res.code, 0, `${args.join(' ')} should fail`);
    assert.match(res.stderr.trimEnd(), expected, args.join(' '));
  }
});

test('v1 flags keep working; a v1 CA signs a v2 host with --version 2; one CA file holds v1 and v2 CAs', (t) => {
  const dir = tempDir(t);
  ok(mesh(dir, 'ca', 'init', '--name', 'one', '--ips', '10.42.0.0/16', '--subnets', '10.200.0.0/16', '--out-crt', 'v1.crt', '--out-key', 'v1.key'), 'init v1');
  ok(mesh(dir, 'ca', 'init', '--name', 'two', '--version', '2', '--networks', '10.42.0.0/16', '--out-crt', 'v2.crt', '--out-key', 'v2.key'), 'init v2');
  assert.match(readFileSync(join(dir, 'v1.crt'), 'utf8'), /^-----BEGIN NEBULA CERTIFICATE-----\n/);
  ok(mesh(dir, 'ca', 'sign', '--ca-crt', 'v1.crt', '--ca-key', 'v1.key', '--name', 'old', '--ip', '10.42.0.2/16', '--subnets', '10.200.3.0/24'), 'sign v1');
  ok(mesh(dir, 'ca', 'sign', '--ca-crt', 'v1.crt', '--ca-key', 'v1.key', '--name', 'up', '--version', '2', '--networks', '10.42.0.4/16'), 'sign v2 with the v1 CA');
  ok(mesh(dir, 'ca', 'sign', '--ca-crt', 'v2.crt', '--ca-key', 'v2.key', '--name', 'new', '--networks', '10.42.0.3/16'), 'sign v2');
  assert.equal(loadCertificate(join(dir, 'old.crt')).details.version, 1);
  assert.equal(loadCertificate(join(dir, 'up.crt')).details.version, 2);
  writeFileSync(join(dir, 'both.crt'), readFileSync(join(dir, 'v1.crt'), 'utf8') + readFileSync(join(dir, 'v2.crt'), 'utf8'));
  for (const host of ['old', 'up', 'new']) ok(mesh(dir, 'ca', 'verify', '--ca', 'both.crt', '--crt', `${host}.crt`), `verify ${host} against both`);
  assert.equal(mesh(dir, 'ca', 'verify', '--ca', 'v1.crt', '--crt', 'new.crt').stderr, 'Error: new.crt: could not find ca for the certificate\n');
  const pool = CAPool.fromPem(readFileSync(join(dir, 'both.crt')));
  assert.deepEqual(pool.cas.map((c) => c.details.version), [1, 2]);
  const r = mesh(dir, 'ca', 'print', '--path', 'both.crt', '--json');
  const printed = JSON.parse(r.stdout) as { version: number; details: { curve?: string; networks: string[] } }[];
  assert.deepEqual(printed.map((p) => p.version), [1, 2], 'a file with a v2 certificate prints as one array, v1 in 1.10\'s form');
  assert.equal(printed[0]!.details.curve, 'CURVE25519');
  assert.match(mesh(dir, 'ca', 'print', '--path', 'v1.crt', '--json').stdout, /^\{"details":\{"groups":\[\],"ips":\["10\.42\.0\.0\/16"\]/, 'a v1-only file prints as nebula-cert 1.6');
  assert.equal(loadCertificates(join(dir, 'both.crt')).length, 2);
});

test('P256: a v2 CA with an ECDSA key signs P256 hosts, also from `mesh ca keygen --curve P256`', (t) => {
  const dir = tempDir(t);
  ok(mesh(dir, 'ca', 'init', '--name', 'p', '--version', '2', '--curve', 'P256'), 'init P256');
  assert.match(readFileSync(join(dir, 'ca.key'), 'utf8'), /^-----BEGIN NEBULA ECDSA P256 PRIVATE KEY-----\n/);
  ok(mesh(dir, 'ca', 'sign', '--name', 'h', '--networks', '10.1.0.2/16'), 'sign P256');
  assert.match(readFileSync(join(dir, 'h.key'), 'utf8'), /^-----BEGIN NEBULA P256 PRIVATE KEY-----\n/);
  ok(mesh(dir, 'ca', 'keygen', '--curve', 'P256', '--out-key', 'k.key', '--out-pub', 'k.pub'), 'keygen P256');
  assert.match(readFileSync(join(dir, 'k.pub'), 'utf8'), /^-----BEGIN NEBULA P256 PUBLIC KEY-----\n/);
  ok(mesh(dir, 'ca', 'sign', '--name', 'k', '--networks', '10.1.0.3/16', '--in-pub', 'k.pub'), 'sign --in-pub P256');
  for (const host of ['h', 'k']) {
    ok(mesh(dir, 'ca', 'verify', '--ca', 'ca.crt', '--crt', `${host}.crt`), `verify ${host}`);
    assert.equal(loadCertificate(join(dir, `${host}.crt`)).details.curve, 'P256');
  }
  ok(mesh(dir, 'ca', 'keygen', '--out-key', 'x.key', '--out-pub', 'x.pub'), 'keygen 25519');
  assert.match(mesh(dir, 'ca', 'sign', '--name', 'x', '--networks', '10.1.0.4/16', '--in-pub', 'x.pub').stderr, /curve of in-pub does not match ca/);
  assert.match(mesh(dir, 'ca', 'print', '--path', 'ca.crt', '--json').stdout, /^\[\{"curve":"P256","details":\{"groups":null,"isCa":true,"issuer":"","name":"p","networks":null,/);
});
